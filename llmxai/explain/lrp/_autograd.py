"""Autograd pieces that turn a backward pass into a relevance pass.

The fast pass carries a gradient-like signal g with R = a * g at every tensor a
(so additions and residual streams conserve relevance by themselves, as gradient x
input does). Each rule then only changes how g crosses one layer.
"""

import torch

from llmxai.explain.lrp.rules import safe_divide, stabilize


class Through(torch.autograd.Function):
    """Return ``value``; in backward send ``g * factor`` to ``x`` (``value``, ``factor`` constants)."""

    @staticmethod
    def forward(ctx, x, value, factor):
        ctx.save_for_backward(factor)
        return value.clone()

    @staticmethod
    def backward(ctx, g):
        (factor,) = ctx.saved_tensors
        return g * factor, None, None


def pass_relevance(x, y):
    """y = f(x) elementwise, with relevance passed unchanged: g_x = g_y * y / x (Montavon et al. 2019)."""
    y = y.detach()
    return Through.apply(x, y, safe_divide(y, x.detach()))


class Tap(torch.autograd.Function):
    """Identity that hands the relevance a * g arriving at ``a`` to ``record``."""

    @staticmethod
    def forward(ctx, a, record):
        ctx.save_for_backward(a)
        ctx.record = record
        return a.clone()

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        ctx.record(a * g)
        return g, None


class Half(torch.autograd.Function):
    """Identity whose backward halves the gradient: the uniform rule for a product of two (Achtibat et al. 2024)."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return 0.5 * g


def local_relevance(rule, fn, weight, bias, a, R):
    """R_in = sum_t c_t sum_p in_p(a) * grad(sum z_t * stop(R / stab(z_t))) for one layer (the z-rule trick).

    ``fn(x, w, b)`` is the layer's affine map (F.linear or a convolution).
    """
    a = a.detach()
    R_in = torch.zeros_like(a)
    with torch.enable_grad():
        for term in rule.terms:
            xs = [p.inputs(a).detach().requires_grad_(True) for p in term.parts]
            z = sum(fn(x, p.weight(weight), None) for x, p in zip(xs, term.parts))
            if bias is not None and term.bias is not None:
                z = z + fn(torch.zeros_like(a[:1]), torch.zeros_like(weight), term.bias(bias))
            s = safe_divide(R, stabilize(z.detach(), rule.epsilon))
            grads = torch.autograd.grad(z, xs, s)
            R_in = R_in + term.coefficient * sum(x.detach() * gx for x, gx in zip(xs, grads))
    return R_in


class RuleFunction(torch.autograd.Function):
    """Layer output ``z`` whose backward applies ``rule``: g_a = R_a / a (or R_a into ``sink`` for the model input)."""

    @staticmethod
    def forward(ctx, a, z, rule, fn, weight, bias, sink, record):
        ctx.save_for_backward(a, z)
        ctx.rule, ctx.fn, ctx.weight, ctx.bias, ctx.sink, ctx.record = rule, fn, weight, bias, sink, record
        return z.clone()

    @staticmethod
    def backward(ctx, g):
        a, z = ctx.saved_tensors
        R_a = local_relevance(ctx.rule, ctx.fn, ctx.weight, ctx.bias, a, z * g)
        if ctx.record is not None:
            ctx.record(R_a)
        if ctx.sink is not None:
            ctx.sink.append(R_a)
            return (torch.zeros_like(a),) + (None,) * 7
        return (safe_divide(R_a, a),) + (None,) * 7
