"""Lesson 13 (layer-wise relevance propagation): the epsilon rule for one dense layer, and LRP
through a whole ReLU network, from the explained score down to the input."""

import torch

from llmxai.device import generator
from llmxai.lesson_checks.common import check_own_work, close, passed, run, tensor_of_shape

_READY = ("lrp", "lrp_literal", "linear_relevance", "conv_relevance", "cp_lrp", "attn_lrp", "gradient_x_input",
          "Epsilon", "Zero", "EpsilonRule", "LRP", "attribute")


def _library():
    from llmxai import explain
    from llmxai.explain.lrp import linear_relevance

    return (explain.lrp, explain.lrp_literal, explain.gradient_x_input, linear_relevance)


def _stab(z, eps, signed=True):
    if not signed:
        return z + eps
    return z + eps * torch.where(z >= 0, 1.0, -1.0).to(z.dtype)


def _eps_rule(a, W, b, R, eps, *, bias=True, signed=True, times_a=True, use_eps=True):
    Z = (a if times_a else torch.ones_like(a))[:, :, None] * W.T[None]  # (N, in, out)
    z = (a[:, :, None] * W.T[None]).sum(1) + (b if bias else 0.0)  # (N, out)
    return (Z * (R / _stab(z, eps if use_eps else 0.0, signed))[:, None, :]).sum(2)


def check_lrp_epsilon(lrp_epsilon, seed=0):
    """Check ``lrp_epsilon(a (N, in), W (out, in), b (out,), R (N, out), eps) -> (N, in)``:
    ``R_i = sum_j a_i w_ij / (z_j + eps sign(z_j)) R_j`` with ``z_j = sum_i a_i w_ij + b_j``, sign(0) = +1."""
    check_own_work(lrp_epsilon, forbidden=_READY, library=_library(), exercise="lrp_epsilon")
    gen = generator(seed + 800)
    N, n_in, n_out = 4, 6, 3
    a = torch.rand(N, n_in, generator=gen, dtype=torch.float64)  # non-negative, as after a ReLU
    W = torch.randn(n_out, n_in, generator=gen, dtype=torch.float64)
    b = torch.randn(n_out, generator=gen, dtype=torch.float64)
    R = torch.randn(N, n_out, generator=gen, dtype=torch.float64)
    for eps in (0.5, 0.0):
        got = run(lrp_epsilon, a.clone(), W.clone(), b.clone(), R.clone(), eps)
        tensor_of_shape(got, (N, n_in), "the input relevances (N, in)")
        if close(got, _eps_rule(a, W, b, R, eps), 1e-9):
            continue
        mistakes = [
            (dict(bias=False), "the bias belongs in the denominator: z_j = sum_i a_i w_ij + b_j (the bias keeps "
             "its own share of R_j)"),
            (dict(times_a=False), "multiply by a_i: the share of input i is its contribution z_ij = a_i w_ij, "
             "not the weight w_ij alone"),
            (dict(signed=False), "epsilon takes the sign of z_j: divide by z_j + eps * sign(z_j), so a negative "
             "z_j moves away from zero, not towards it"),
            (dict(use_eps=False), "epsilon is missing from the denominator: z_j + eps * sign(z_j)"),
        ]
        for switches, hint in mistakes:
            if close(got, _eps_rule(a, W, b, R, eps, **switches), 1e-9):
                raise AssertionError(hint)
        raise AssertionError(f"with eps = {eps}, relevances differ from R_i = sum_j a_i w_ij / "
                             "(z_j + eps sign(z_j)) R_j")
    return passed("lrp_epsilon")


def _net(seed, sizes=(5, 7, 6, 3)):
    gen = generator(seed + 900)
    return [(torch.randn(o, i, generator=gen, dtype=torch.float64) * 0.7,
             torch.randn(o, generator=gen, dtype=torch.float64) * 0.2) for i, o in zip(sizes[:-1], sizes[1:])]


def _lrp_net(layers, x, target, eps, *, start="score", a_kind="relu", clip=False):
    inputs, pre, h = [], [], x  # each layer's input (after the ReLU below) and its pre-activation
    for k, (W, b) in enumerate(layers):
        inputs.append(h)
        pre.append(h if k == 0 else pre_z)
        pre_z = h @ W.T + b
        h = torch.relu(pre_z) if k < len(layers) - 1 else pre_z
    rows = torch.arange(len(x))
    if start == "all":
        R = h.clone()
    else:
        R = torch.zeros_like(h)
        R[rows, target] = h[rows, target] if start == "score" else 1.0
    for (W, b), a in zip(reversed(layers), reversed(inputs if a_kind == "relu" else pre)):
        R = _eps_rule(a, W, b, R, eps)
        if clip:
            R = torch.relu(R)
    return R


def check_lrp_mlp(lrp_mlp, seed=0):
    """Check ``lrp_mlp(layers, x (N, in), target (N,), eps) -> (N, in)`` for a ReLU network given as
    ``[(W, b), ...]`` (ReLU after every layer but the last): start from ``R = y_c`` of each row's target class
    (0 for the other classes) and apply the epsilon rule at every layer down to the input."""
    check_own_work(lrp_mlp, forbidden=_READY, library=_library(), exercise="lrp_mlp")
    layers = _net(seed)
    gen = generator(seed + 950)
    x = torch.randn(4, 5, generator=gen, dtype=torch.float64)
    target = torch.tensor([0, 2, 1, 2])
    for eps in (0.1, 0.0):
        got = run(lrp_mlp, [(W.clone(), b.clone()) for W, b in layers], x.clone(), target.clone(), eps)
        tensor_of_shape(got, x.shape, "the input relevances (N, in)")
        if close(got, _lrp_net(layers, x, target, eps), 1e-9):
            continue
        mistakes = [
            (dict(start="all"), "you started from every class's logit: R at the output is y_c for the target "
             "class and 0 for the others"),
            (dict(start="one"), "you started from R = 1: start from the score itself, R = y_c, so that the input "
             "relevances share out y_c"),
            (dict(clip=True), "the relevance was clipped: relevance passes a ReLU unchanged and may be negative"),
            (dict(a_kind="pre"), "a_i is the layer's input AFTER the ReLU of the layer below, not the "
             "pre-activation z"),
        ]
        for switches, hint in mistakes:
            if close(got, _lrp_net(layers, x, target, eps, **switches), 1e-9):
                raise AssertionError(hint)
        raise AssertionError(f"with eps = {eps}, relevances differ: keep each layer's input during the forward "
                             "pass, then from R = y_c apply your lrp_epsilon layer by layer, last layer first "
                             "(does exercise 1 pass?)")
    return passed("lrp_mlp")


def _zplus(a, W, b, R, *, clamp="contributions", bias=False, den="positive", safe=True):
    Z = a[:, :, None] * W.T[None]  # (N, in, out)
    Zp = Z.clamp(min=0) if clamp == "contributions" else Z
    d = {"positive": Zp.sum(1), "signed": Z.sum(1)}[den] + (b.clamp(min=0) if bias else 0.0)
    ratio = R / d
    if safe:
        ratio = ratio.masked_fill(d == 0, 0.0)
    out = (Zp * ratio[:, None, :]).sum(2)
    return torch.relu(out) if clamp == "result" else out


def check_lrp_zplus(lrp_zplus, seed=0):
    """Check ``lrp_zplus(a (N, in), W (out, in), b (out,), R (N, out)) -> (N, in)``: the z+ rule,
    ``R_i = sum_j (a_i w_ij)^+ / sum_i' (a_i' w_i'j)^+ R_j``, bias ignored, and 0 from an output that has no
    positive contribution."""
    check_own_work(lrp_zplus, forbidden=_READY + ("ZPlus", "AlphaBeta"), library=_library(), exercise="lrp_zplus")
    gen = generator(seed + 990)
    N, n_in, n_out = 4, 6, 5
    a = torch.rand(N, n_in, generator=gen, dtype=torch.float64)
    W = torch.randn(n_out, n_in, generator=gen, dtype=torch.float64)
    W[2] = -W[2].abs()  # output 2 has no positive contribution
    b = torch.randn(n_out, generator=gen, dtype=torch.float64).abs() + 0.1
    R = torch.rand(N, n_out, generator=gen, dtype=torch.float64) + 0.1
    R[0] = -R[0]  # one row of negative relevance
    got = run(lrp_zplus, a.clone(), W.clone(), b.clone(), R.clone())
    tensor_of_shape(got, (N, n_in), "the input relevances (N, in)")
    if close(got, _zplus(a, W, b, R), 1e-9):
        return passed("lrp_zplus")
    if not bool(torch.isfinite(got.detach()).all()):
        raise AssertionError("NaN or inf: an output with no positive contribution has 0 / 0; it passes nothing "
                             "(set its share to 0, e.g. with torch.where(den > 0, R / den, 0))")
    mistakes = [
        (dict(clamp="none", den="signed"), "keep only the positive contributions (a_i w_ij)^+, in the numerator and "
         "in the denominator: what you computed is LRP-0 without the bias"),
        (dict(clamp="result", den="signed"), "clip the contributions, not the result: z+ shares R_j by the positive "
         "contributions, and ReLU(LRP-0) is a different (non-conservative) map"),
        (dict(den="signed"), "divide by the sum of the POSITIVE contributions, sum_i' (a_i' w_i'j)^+, so that the "
         "shares of each output add up to one"),
        (dict(bias=True), "z+ ignores the bias: the denominator is the sum of the positive contributions alone"),
    ]
    for switches, hint in mistakes:
        if close(got, _zplus(a, W, b, R, **switches), 1e-9):
            raise AssertionError(hint)
    raise AssertionError("relevances differ from R_i = sum_j (a_i w_ij)^+ / sum_i' (a_i' w_i'j)^+ R_j")
