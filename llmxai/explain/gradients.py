"""Gradient attributions: saliency, gradient x input, SmoothGrad and Integrated Gradients.

All share one call shape, ``method(model, inputs, target, **options)``, and return a tensor
shaped like ``inputs`` (like the embeddings ``(B, T, d_model)`` when ``inputs`` are token
ids). Keyword arguments that are not options of the method go to the model's forward
(``forward_embedded`` for token ids), e.g. ``lengths=`` for padded text classifiers; a
keyword that is neither is an error.
"""

import numpy as np
import torch

from llmxai import validate
from llmxai.explain._inputs import Prepared, eval_mode, gradient
from llmxai.explain.targets import select_target
from llmxai.device import generator

QUADRATURE = ("riemann_right", "riemann_left", "riemann_middle", "riemann_trapezoid", "gausslegendre")


def saliency(model, inputs, target, *, absolute=True, **forward_kwargs):
    """The gradient of the target with respect to the input, ``|dy/dx|`` by default.

    Simonyan, Vedaldi & Zisserman 2014, "Deep inside convolutional networks", arXiv 1312.6034.
    """
    if not isinstance(absolute, bool):
        raise TypeError(f"absolute: expected a bool, got {type(absolute).__name__}")
    with eval_mode(model):
        p = Prepared(model, inputs, forward_kwargs, saliency)
        grad = gradient(p, p.x, target)
    return grad.abs() if absolute else grad


def gradient_x_input(model, inputs, target, **forward_kwargs):
    """``x * dy/dx``: the first-order Taylor contribution of each input (Shrikumar et al. 2016, arXiv 1605.01713)."""
    with eval_mode(model):
        p = Prepared(model, inputs, forward_kwargs, gradient_x_input)
        return gradient(p, p.x, target) * p.x


def _stacked_gradients(p, points, n, target, internal_batch_size):
    """Gradients at ``points(start, stop)`` (k, B, ...) for n points, at most ``internal_batch_size`` rows a pass."""
    B = p.B
    per_chunk = n if internal_batch_size is None else max(1, validate.positive_int(
        internal_batch_size, "internal_batch_size") // B)
    grads = []
    for start in range(0, n, per_chunk):
        chunk = points(start, min(start + per_chunk, n))  # (k, B, ...)
        k = chunk.shape[0]
        grads.append(gradient(p, chunk.reshape(k * B, *chunk.shape[2:]), target, times=k).reshape(chunk.shape))
    return torch.cat(grads)  # (n, B, ...)


def smoothgrad(model, inputs, target, *, n_samples=25, noise_level=0.15, seed=0, internal_batch_size=None,
               **forward_kwargs):
    """The gradient averaged over ``n_samples`` noisy copies of the input.

    Noise is Gaussian with standard deviation ``noise_level * (max(x) - min(x))`` per example,
    following Smilkov et al. 2017, "SmoothGrad: removing noise by adding noise", arXiv 1706.03825.
    ``seed`` fixes the noise (a private generator; the global RNG is untouched).
    """
    validate.positive_int(n_samples, "n_samples")
    noise_level = validate.number(noise_level, "noise_level", minimum=0)
    validate.seed(seed)
    with eval_mode(model):
        p = Prepared(model, inputs, forward_kwargs, smoothgrad)
        x = p.x
        flat = x.reshape(x.shape[0], -1)
        spread = (flat.max(1).values - flat.min(1).values).reshape(-1, *[1] * (x.dim() - 1))  # (B, 1, ...)
        g = generator(seed, x.device)
        noise = torch.randn((n_samples, *x.shape), generator=g, device=x.device, dtype=x.dtype)
        noisy = lambda start, stop: x + noise[start:stop] * (noise_level * spread)  # (k, B, ...)
        return _stacked_gradients(p, noisy, n_samples, target, internal_batch_size).mean(0)


def quadrature(steps, method):
    """Nodes ``alpha`` in [0, 1] and weights ``w`` with ``integral_0^1 f ~ sum_k w_k f(alpha_k)``.

    Riemann rules use ``steps`` equal cells (left, right or middle point of each); the
    trapezoid rule uses ``steps`` equally spaced nodes including both ends, weights
    ``1/(steps-1)`` halved at the ends; Gauss-Legendre uses ``steps`` Legendre nodes.
    """
    validate.choice(method, "method", set(QUADRATURE))
    validate.positive_int(steps, "steps", minimum=2 if method == "riemann_trapezoid" else 1)
    n = steps
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(n)
        return torch.from_numpy(0.5 * (nodes + 1)), torch.from_numpy(0.5 * weights)
    k = torch.arange(n, dtype=torch.float64)
    if method == "riemann_trapezoid":
        w = torch.full((n,), 1.0 / (n - 1), dtype=torch.float64)
        w[0] = w[-1] = 0.5 / (n - 1)
        return k / (n - 1), w
    offset = {"riemann_left": 0.0, "riemann_middle": 0.5, "riemann_right": 1.0}[method]
    return (k + offset) / n, torch.full((n,), 1.0 / n, dtype=torch.float64)


def integrated_gradients(model, inputs, target, baseline=None, steps=50, method="riemann_right", *,
                         internal_batch_size=None, return_gap=False, **forward_kwargs):
    """Integrated Gradients: ``(x - x') * integral_0^1 dF(x' + a (x - x'))/dx da``.

    Sundararajan, Taly & Yan 2017, "Axiomatic attribution for deep networks", ICML,
    arXiv 1703.01365, eq. 1; the integral is approximated by ``method`` with ``steps`` nodes
    (the paper's eq. 3 is ``riemann_right``). ``baseline`` x' is None/'zero', 'pad' (the
    embedding of the padding token, for text) or a tensor shaped like the input or like one
    example (for text also baseline token ids, which are embedded). All steps run as one batch unless ``internal_batch_size`` caps the rows per
    forward pass. With ``return_gap=True`` also returns the completeness gap
    ``sum(IG) - (F(x) - F(x'))`` per example, which tends to 0 as ``steps`` grows.
    """
    alphas, weights = quadrature(steps, method)
    if not isinstance(return_gap, bool):
        raise TypeError(f"return_gap: expected a bool, got {type(return_gap).__name__}")
    with eval_mode(model):
        p = Prepared(model, inputs, forward_kwargs, integrated_gradients)
        x, x0 = p.x, p.baseline(baseline)
        shape = (-1, *[1] * x.dim())
        alphas, weights = alphas.to(x.device, x.dtype).reshape(shape), weights.to(x.device, x.dtype).reshape(shape)
        on_path = lambda start, stop: x0 + alphas[start:stop] * (x - x0)  # (k, B, ...)
        grads = _stacked_gradients(p, on_path, steps, target, internal_batch_size)
        attributions = (x - x0) * (weights * grads).sum(0)
        if not return_gap:
            return attributions
        gap = attributions.reshape(x.shape[0], -1).sum(1) - (
            select_target(p.output(x), target) - select_target(p.output(x0), target))
        return attributions, gap
