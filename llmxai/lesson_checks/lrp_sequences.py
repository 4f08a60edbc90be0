"""Lesson 14 (LRP through LSTMs and attention): the signal-take-all rule for an LSTM cell update,
CP-LRP's relevance of the values with the attention weights held constant, and attention with
detached weights (the gradient form of CP-LRP)."""

import math

import torch

from llmxai.device import generator
from llmxai.lesson_checks.common import _what, check_own_work, close, finite, passed, run, tensor_of_shape

_READY = ("lrp", "cp_lrp", "attn_lrp", "lstm_lrp", "lstm_lrp_literal", "attention_relevance", "linear_relevance",
          "gradient_x_input", "scaled_dot_product_attention", "MultiheadAttention", "attribute")


def _library():
    from llmxai import explain
    from llmxai.explain.lrp import attention_relevance, lstm_lrp, lstm_lrp_literal

    return (explain.lrp, explain.cp_lrp, explain.attn_lrp, attention_relevance, lstm_lrp, lstm_lrp_literal)


def _stab(z, eps, signed=True):
    return z + eps * (torch.where(z >= 0, 1.0, -1.0).to(z.dtype) if signed else 1.0)


def _cell(f, c_prev, i, g, R_c, eps, *, gated=True, den="c", signed=True, split="share", swap=False):
    c = f * c_prev + i * g
    d = {"c": _stab(c, eps, signed), "signals": _stab(c_prev + g, eps, signed)}[den]
    old, new = (f * c_prev, i * g) if gated else (c_prev, g)
    if split == "half":
        out = (R_c / 2, R_c / 2)
    else:
        out = (old / d * R_c, new / d * R_c)
    return out[::-1] if swap else out


def check_lstm_cell_relevance(lstm_cell_relevance, seed=0):
    """Check ``lstm_cell_relevance(f, c_prev, i, g, R_c, eps) -> (R_c_prev, R_g)``, all ``(B, H)``: for
    ``c = f c_prev + i g`` with the gates held constant, ``R_c_prev = f c_prev / stab(c) R_c`` and
    ``R_g = i g / stab(c) R_c``, ``stab(c) = c + eps sign(c)``."""
    check_own_work(lstm_cell_relevance, forbidden=_READY, library=_library(), exercise="lstm_cell_relevance")
    gen = generator(seed + 1000)
    B, H = 3, 5
    f, i = (torch.sigmoid(torch.randn(B, H, generator=gen, dtype=torch.float64) * 2) for _ in range(2))
    c_prev = torch.randn(B, H, generator=gen, dtype=torch.float64)
    g = torch.tanh(torch.randn(B, H, generator=gen, dtype=torch.float64) * 1.5)
    R_c = torch.randn(B, H, generator=gen, dtype=torch.float64)
    for eps in (0.1, 0.0):
        got = run(lstm_cell_relevance, f.clone(), c_prev.clone(), i.clone(), g.clone(), R_c.clone(), eps)
        if not (isinstance(got, tuple) and len(got) == 2):
            raise AssertionError(f"return the pair (R_c_prev, R_g), got {_what(got)}")
        for t, what in zip(got, ("R_c_prev", "R_g")):
            tensor_of_shape(t, (B, H), f"{what} (B, H)")
        want = _cell(f, c_prev, i, g, R_c, eps)
        if close(got[0], want[0], 1e-9) and close(got[1], want[1], 1e-9):
            continue
        mistakes = [
            (dict(swap=True), "the pair is swapped: return (R_c_prev, R_g)"),
            (dict(gated=False), "the contributions are f * c_prev and i * g: the gates act as constant weights, "
             "so they stay in the numerator (they just receive no relevance themselves)"),
            (dict(den="signals"), "divide by the cell state c = f * c_prev + i * g (stabilised), the sum of the "
             "two contributions, not by c_prev + g"),
            (dict(split="half"), "share R_c in proportion to the two contributions, not half each"),
            (dict(signed=False), "epsilon takes the sign of c: c + eps * sign(c)"),
        ]
        for switches, hint in mistakes:
            wrong = _cell(f, c_prev, i, g, R_c, eps, **switches)
            if close(got[0], wrong[0], 1e-9) and close(got[1], wrong[1], 1e-9):
                raise AssertionError(hint)
        if eps > 0:
            no_eps = _cell(f, c_prev, i, g, R_c, 0.0)
            if close(got[0], no_eps[0], 1e-9) and close(got[1], no_eps[1], 1e-9):
                raise AssertionError("epsilon is missing: divide by c + eps * sign(c)")
        raise AssertionError(f"with eps = {eps}: expected R_c_prev = f c_prev / stab(c) R_c and "
                             "R_g = i g / stab(c) R_c")
    return passed("lstm_cell_relevance")


def _values(P, V, R_z, eps, *, transpose=True, times_v=True, half=False, signed=True):
    z = P @ V  # (B, T, d)
    s = R_z / _stab(z, eps, signed)
    R_V = (P.transpose(-1, -2) if transpose else P) @ s
    R_V = R_V * V if times_v else R_V
    return R_V / 2 if half else R_V


def check_cp_value_relevance(cp_value_relevance, seed=0):
    """Check ``cp_value_relevance(P (B, T, T), V (B, T, d), R_z (B, T, d), eps) -> (B, T, d)``: with
    ``z_id = sum_j P_ij v_jd`` and P constant, ``R_{v_jd} = sum_i P_ij v_jd / stab(z_id) R_{z_id}``."""
    check_own_work(cp_value_relevance, forbidden=_READY, library=_library(), exercise="cp_value_relevance")
    gen = generator(seed + 1100)
    B, T, d = 2, 5, 3
    P = torch.randn(B, T, T, generator=gen, dtype=torch.float64).softmax(-1)
    V = torch.randn(B, T, d, generator=gen, dtype=torch.float64)
    R_z = torch.randn(B, T, d, generator=gen, dtype=torch.float64)
    for eps in (0.05, 0.0):
        got = run(cp_value_relevance, P.clone(), V.clone(), R_z.clone(), eps)
        tensor_of_shape(got, (B, T, d), "the values' relevance (B, T, d)")
        if close(got, _values(P, V, R_z, eps), 1e-9):
            continue
        mistakes = [
            (dict(transpose=False), "P[i, j] is how much query i reads value j: the relevance of v_j collects over "
             "the queries i, so use P transposed (P^T @ ...)"),
            (dict(times_v=False), "multiply by v_jd: the contribution of v_j to z_i is P_ij v_jd, not P_ij alone"),
            (dict(half=True), "CP-LRP holds P constant, so the values receive ALL of the relevance; halving it is "
             "AttnLRP's rule for a product of two inputs"),
            (dict(signed=False), "epsilon takes the sign of z: z + eps * sign(z)"),
        ]
        if eps > 0:
            mistakes.append((dict(), "epsilon is missing: divide by z + eps * sign(z)"))
        for switches, hint in mistakes:
            if not switches:
                if close(got, _values(P, V, R_z, 0.0), 1e-9):
                    raise AssertionError(hint)
            elif close(got, _values(P, V, R_z, eps, **switches), 1e-9):
                raise AssertionError(hint)
        raise AssertionError(f"with eps = {eps}: expected R_v[j, d] = sum_i P[i, j] v[j, d] / stab(z[i, d]) "
                             "R_z[i, d]")
    return passed("cp_value_relevance")


def _attention(q, k, v, *, detach="weights", scale=True, axis=-1):
    s = q @ k.transpose(-1, -2) / (math.sqrt(q.shape[-1]) if scale else 1.0)
    P = s.softmax(axis)
    if detach == "weights":
        P = P.detach()
    out = P @ v
    return out.detach() if detach == "output" else out


def _grads(fn, q, k, v, G):
    q, k, v = (t.detach().clone().requires_grad_(True) for t in (q, k, v))
    out = fn(q, k, v)
    if not isinstance(out, torch.Tensor):
        return out, None
    if not out.requires_grad:
        return out, (None, None, None)
    grads = torch.autograd.grad(out, (q, k, v), grad_outputs=G, allow_unused=True)
    return out, grads


def check_cp_attention(cp_attention, seed=0):
    """Check ``cp_attention(q, k, v) -> (B, Tq, d_v)``: ``softmax(q k^T / sqrt(d)) v`` over the keys, with
    the attention weights detached, so that q and k receive no gradient and v receives ``P^T G``."""
    check_own_work(cp_attention, forbidden=_READY, library=_library(), exercise="cp_attention")
    gen = generator(seed + 1200)
    B, T, d, d_v = 2, 5, 4, 3
    q, k = (torch.randn(B, T, d, generator=gen, dtype=torch.float64) for _ in range(2))
    v = torch.randn(B, T, d_v, generator=gen, dtype=torch.float64)
    G = torch.randn(B, T, d_v, generator=gen, dtype=torch.float64)
    out, grads = run(lambda a, b, c: _grads(cp_attention, a, b, c, G), q, k, v)
    tensor_of_shape(out, (B, T, d_v), "the output (B, T, d_v)")
    want = _attention(q, k, v)
    if not close(out, want, 1e-9):
        if close(out, _attention(q, k, v, scale=False), 1e-9):
            raise AssertionError("scale the scores by 1 / sqrt(d): softmax(q k^T / sqrt(d))")
        if close(out, _attention(q, k, v, axis=-2), 1e-9):
            raise AssertionError("softmax over the keys (the last axis), so that each query's weights sum to 1")
        raise AssertionError("the output differs from softmax(q k^T / sqrt(d)) @ v")
    g_q, g_k, g_v = grads
    if g_v is None:
        raise AssertionError("v receives no gradient: detach only the attention weights P, not the output or v")
    nonzero = [t is not None and bool(t.abs().max() > 0) for t in (g_q, g_k)]
    if any(nonzero):
        raise AssertionError("q and k receive a gradient: detach the attention weights (P.detach()), so that "
                             "the backward pass treats them as constants, as CP-LRP does")
    P = (q @ k.transpose(-1, -2) / math.sqrt(d)).softmax(-1)
    if not (finite(g_v) and close(g_v, P.transpose(-1, -2) @ G, 1e-9)):
        raise AssertionError("v's gradient differs from P^T G: compute the output as P @ v")
    return passed("cp_attention")
