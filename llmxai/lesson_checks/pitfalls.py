"""Lesson 10 (the pitfalls appendix): each exercise is a classic mistake to get right, and each grader
recognises that mistake: the ELBO's sign and its Gaussian KL, Grad-CAM's mean-gradient weights, and a
training loop that resets PyTorch's accumulated gradients."""

import torch

from llmxai.derive import gaussian_kl
from llmxai.device import generator
from llmxai.explain import grad_cam
from llmxai.lesson_checks.common import _what, check_own_work, close, finite, passed, run, tensor_of_shape

_KL = ("gaussian_kl", "kl_div", "kl_divergence", "elbo_monte_carlo", "linear_gaussian_elbo", "Normal")
_CAM = ("grad_cam", "GradCam", "LayerGradCam", "GradCAM")
_OPT = ("SGD", "Adam", "optim", "step")


def _elbo(ell, mu, log_var, *, sign=-1.0, half=0.5, var=None, reduce="sum"):
    v = log_var.exp() if var is None else var
    kl_terms = half * (mu ** 2 + v - 1 - log_var)  # (B, k)
    kl = kl_terms.sum(-1) if reduce == "sum" else kl_terms.mean(-1)
    return ell + sign * kl


def check_gaussian_elbo(gaussian_elbo, seed=0):
    """Check ``gaussian_elbo(expected_log_lik (B,), mu (B, k), log_var (B, k)) -> (B,)``: the ELBO of a Gaussian
    encoder ``N(mu, exp(log_var))`` with a standard normal prior,
    ``E_q[log p(x|z)] - KL``, ``KL = 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2)``."""
    check_own_work(gaussian_elbo, forbidden=_KL, library=(gaussian_kl,), exercise="gaussian_elbo")
    g = generator(seed)
    B, k = 4, 3
    ell = -torch.rand(B, generator=g, dtype=torch.float64) * 5
    mu = torch.randn(B, k, generator=g, dtype=torch.float64)
    log_var = torch.randn(B, k, generator=g, dtype=torch.float64) * 0.8
    got = run(gaussian_elbo, ell.clone(), mu.clone(), log_var.clone())
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        raise AssertionError("one number: return the ELBO of each example, shape (B,) (the KL sums over the latent "
                             "dimensions only)")
    tensor_of_shape(got, (B,), "one ELBO per example (B,)")
    if not finite(got):
        raise AssertionError("NaN or inf: sigma^2 = exp(log_var), and log sigma^2 is log_var itself")
    hints = [
        (dict(sign=1.0), "you ADDED the KL: the ELBO subtracts it, E_q[log p(x|z)] - KL(q || p) <= log p(x); with "
                         "+KL the 'bound' can exceed log p(x)"),
        (dict(half=1.0), "the KL of two Gaussians has a factor 1/2: (mu^2 + sigma^2 - 1 - log sigma^2) / 2"),
        (dict(var=(0.5 * log_var).exp()), "you used sigma where sigma^2 belongs: log_var is log sigma^2, so "
                                          "sigma^2 = exp(log_var)"),
        (dict(var=log_var), "log_var is a logarithm: sigma^2 = exp(log_var)"),
        (dict(reduce="mean"), "you averaged over the latent dimensions: the KL of independent dimensions is their SUM"),
        (dict(sign=1.0, half=1.0), "you ADDED the KL (the ELBO subtracts it) and dropped its factor 1/2"),
    ]
    for switches, hint in hints:
        if close(got, _elbo(ell, mu, log_var, **switches)):
            raise AssertionError(hint)
    if not close(got, _elbo(ell, mu, log_var)):
        raise AssertionError("expected expected_log_lik - 0.5 * (mu**2 + exp(log_var) - 1 - log_var).sum(-1)")
    return passed("gaussian_elbo")


def _cam(A, G, *, pool="mean", relu=True, weights_from="grad", before=False):
    if pool == "none":
        m = (G * A).sum(1)
    else:
        src = G if weights_from == "grad" else A
        alpha = src.mean((2, 3), keepdim=True) if pool == "mean" else src.sum((2, 3), keepdim=True)
        m = (torch.relu(alpha * A) if before else alpha * A).sum(1)
    return torch.relu(m) if relu else m


def check_gradcam_map(gradcam_map, seed=0):
    """Check ``gradcam_map(A (B, C, H, W), dy_dA (B, C, H, W)) -> (B, H, W)``: ``alpha_k`` = mean of ``dy_dA`` over
    each map's positions, map = ``ReLU(sum_k alpha_k A_k)``."""
    check_own_work(gradcam_map, forbidden=_CAM, library=(grad_cam,), exercise="gradcam_map")
    g = generator(seed)
    B, C, H, W = 2, 5, 4, 3
    A = torch.relu(torch.randn(B, C, H, W, generator=g, dtype=torch.float64))
    G = torch.randn(B, C, H, W, generator=g, dtype=torch.float64)
    got = run(gradcam_map, A.clone(), G.clone())
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (B, C, H, W):
        raise AssertionError("(B, C, H, W): sum the weighted maps over the channels, alpha_k A_k summed over k")
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (B, C):
        raise AssertionError("(B, C): those are the weights alpha_k; the map is ReLU(sum_k alpha_k A_k), (B, H, W)")
    tensor_of_shape(got, (B, H, W), "the map (B, H, W)")
    hints = [
        (dict(pool="none"), "no pooling of the gradients: that is ReLU(gradient x activation) position by position; "
                            "Grad-CAM weighs each whole map A_k by its MEAN gradient alpha_k"),
        (dict(relu=False), "the ReLU is missing: keep only the positive evidence for the class, "
                           "ReLU(sum_k alpha_k A_k)"),
        (dict(weights_from="act"), "alpha_k is the mean of the GRADIENT dy/dA_k, not of the activations A_k"),
        (dict(pool="sum"), "you summed the gradients over positions: alpha_k is their MEAN (the sum scales the map "
                           "by H * W)"),
        (dict(before=True), "the ReLU goes after the sum over channels, not on each alpha_k A_k"),
        (dict(pool="none", relu=False), "no pooling and no ReLU: alpha_k = mean of dy/dA_k over positions, then "
                                        "ReLU(sum_k alpha_k A_k)"),
    ]
    for switches, hint in hints:
        if close(got, _cam(A, G, **switches)):
            raise AssertionError(hint)
    if not close(got, _cam(A, G)):
        raise AssertionError("expected ReLU((dy_dA.mean((2, 3), keepdim=True) * A).sum(1))")
    return passed("gradcam_map")


def _problem(seed):
    g = generator(seed)
    d, n_batches, n = 3, 4, 6
    w_true = torch.randn(d, generator=g, dtype=torch.float64)
    batches = []
    for _ in range(n_batches):
        X = torch.randn(n, d, generator=g, dtype=torch.float64)
        batches.append((X, X @ w_true + 0.5 + 0.1 * torch.randn(n, generator=g, dtype=torch.float64)))
    start = [torch.randn(d, generator=g, dtype=torch.float64) * 0.1, torch.zeros((), dtype=torch.float64)]

    def loss_fn(params, batch):
        w, b = params
        X, y = batch
        return ((X @ w + b - y) ** 2).mean()

    return start, loss_fn, batches


def _sgd(start, loss_fn, batches, lr, *, zero=True, sign=-1.0):
    params = [p.clone().requires_grad_(True) for p in start]
    losses = []
    for batch in batches:
        loss = loss_fn(params, batch)
        loss.backward()
        with torch.no_grad():
            for p in params:
                p += sign * lr * p.grad
                if zero:
                    p.grad.zero_()
        losses.append(loss.item())
    return [p.detach() for p in params], torch.tensor(losses, dtype=torch.float64)


def check_sgd_loop(sgd_loop, seed=0):
    """Check ``sgd_loop(params (list of leaf tensors), loss_fn, batches, lr) -> list of floats``: for each batch,
    ``loss = loss_fn(params, batch)``, backward, ``p -= lr * p.grad`` in place for every parameter, gradients
    reset; returns each step's loss as a Python float."""
    check_own_work(sgd_loop, forbidden=_OPT, library=(torch.optim.SGD, torch.optim.Adam), exercise="sgd_loop")
    start, loss_fn, batches = _problem(seed)
    lr = 0.1
    params = [p.clone().requires_grad_(True) for p in start]
    try:
        got = run(sgd_loop, params, loss_fn, batches, lr)
    except AssertionError as e:
        if "leaf Variable" in str(e):
            raise AssertionError("an in-place update of a parameter that requires grad must not be recorded by "
                                 "autograd: do it inside `with torch.no_grad():`") from None
        raise
    if isinstance(got, torch.Tensor) or not isinstance(got, (list, tuple)) or len(got) != len(batches):
        raise AssertionError(f"expected a list with one loss per batch ({len(batches)}), got {_what(got)}")
    if any(isinstance(v, torch.Tensor) for v in got):
        raise AssertionError("return each loss as a Python float (loss.item()): a stored loss tensor keeps its whole "
                             "graph alive")
    try:
        losses = torch.tensor([float(v) for v in got], dtype=torch.float64)
    except (TypeError, ValueError):
        raise AssertionError("expected the losses as numbers") from None
    final = [p.detach() for p in params]
    want_params, want_losses = _sgd(start, loss_fn, batches, lr)
    if all(torch.equal(p, s) for p, s in zip(final, start)):
        raise AssertionError("the parameters you were given never changed: update them IN PLACE (p -= lr * p.grad "
                             "inside torch.no_grad()); `p = p - lr * p.grad` makes a new tensor and leaves params as "
                             "they were")
    variants = [
        (dict(zero=False), "gradients accumulate: PyTorch ADDS each backward pass into p.grad, so reset it after "
                           "each step (p.grad.zero_() or p.grad = None)"),
        (dict(sign=1.0), "sign: a descent step subtracts the gradient, p -= lr * p.grad"),
        (dict(zero=False, sign=1.0), "sign and accumulation: subtract lr * p.grad and reset p.grad after each step"),
    ]
    for switches, hint in variants:
        wrong_params, wrong_losses = _sgd(start, loss_fn, batches, lr, **switches)
        if all(close(p, w) for p, w in zip(final, wrong_params)):
            raise AssertionError(hint)
    if not all(close(p, w) for p, w in zip(final, want_params)):
        raise AssertionError("final parameters differ from plain SGD: loss, backward, p -= lr * p.grad, reset grad")
    if close(losses, torch.cat([want_losses[1:], want_losses[-1:]])) or not close(losses, want_losses):
        raise AssertionError("losses differ: record each batch's loss BEFORE the update made from it")
    return passed("sgd_loop")
