"""Lesson 20 (a real language model): RMSNorm, rotary position embeddings, grouped-query
attention, and finding a previous-token head from attention patterns."""

import math

import torch

from llmxai.device import generator
from llmxai.lesson_checks.common import _what, check_own_work, close, passed, run, tensor_of_shape
from llmxai.nn.llama import GroupedQueryAttention, RMSNorm, apply_rotary, rotary_angles

_NORMS = ("rms_norm", "RMSNorm", "layer_norm", "LayerNorm", "normalize", "native_layer_norm")
_ROPE = ("apply_rotary", "rotary_angles", "rotary_emb", "apply_rotary_pos_emb", "RotaryEmbedding")
_ATTENTION = ("scaled_dot_product_attention", "GroupedQueryAttention", "MultiheadAttention", "MultiHeadAttention",
              "multi_head_attention_forward")
_SCORES = ("previous_token_head_scores", "induction_head_scores")


def _rms(x, w, eps, *, centre=False, eps_outside=False, no_mean=False, affine=True):
    x = x - x.mean(-1, keepdim=True) if centre else x
    ms = x.pow(2).sum(-1, keepdim=True) if no_mean else x.pow(2).mean(-1, keepdim=True)
    y = x / (ms.sqrt() + eps if eps_outside else (ms + eps).sqrt())
    return y * w if affine else y


def check_rms_norm(rms_norm, seed=0):
    """Check ``rms_norm(x (..., d), weight (d,), eps) -> (..., d)``: ``x / sqrt(mean(x^2) + eps) * weight``."""
    check_own_work(rms_norm, forbidden=_NORMS, library=(RMSNorm,), exercise="rms_norm")
    g = generator(seed)
    B, T, d = 2, 4, 6
    # rows at different scales (some tiny, so eps matters) and a non-zero mean, so the mistakes differ
    x = (torch.randn(B, T, d, generator=g, dtype=torch.float64) + 0.7) * torch.tensor([0.01, 1.0, 3.0, 0.2])[:, None]
    w = torch.rand(d, generator=g, dtype=torch.float64) + 0.5
    eps = 1e-3
    got = run(rms_norm, x.clone(), w.clone(), eps)
    tensor_of_shape(got, (B, T, d), "the normalised x (same shape as x)")
    mistakes = [
        (dict(centre=True), "you subtracted the mean: that is LayerNorm; RMSNorm divides x itself by its root mean square"),
        (dict(eps_outside=True), "eps goes inside the square root: sqrt(mean(x^2) + eps)"),
        (dict(no_mean=True), "divide by the root MEAN square: average x^2 over the d features, do not sum it"),
        (dict(affine=False), "multiply by weight at the end: y = x / rms * weight"),
    ]
    for switches, hint in mistakes:
        if close(got, _rms(x, w, eps, **switches)):
            raise AssertionError(hint)
    if close(got, x / (x.pow(2).mean((-2, -1), keepdim=True) + eps).sqrt() * w):
        raise AssertionError("normalise each vector over its own d features (the last axis), not over all positions")
    if not close(got, _rms(x, w, eps)):
        raise AssertionError("values differ from x / sqrt(mean(x^2 over the last axis) + eps) * weight")
    return passed("rms_norm")


def _rope(x, base, *, halves=False, sign=1.0, exponent=2.0, start=0):
    T, d = x.shape[-2], x.shape[-1]
    i = torch.arange(d // 2, dtype=torch.float64)
    theta = base ** (-exponent * i / d)
    angle = sign * (torch.arange(T, dtype=torch.float64)[:, None] + start) * theta  # (T, d / 2)
    cos, sin = angle.cos(), angle.sin()
    if halves:
        x1, x2 = x[..., : d // 2], x[..., d // 2:]
        return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], -1)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], -1).flatten(-2)


def check_rope(rope, seed=0):
    """Check ``rope(x (B, T, d), base) -> (B, T, d)``: the pair ``(x_{2i}, x_{2i+1})`` at position ``m``
    (counted from 0) rotated by the angle ``m * base^(-2i/d)``."""
    check_own_work(rope, forbidden=_ROPE, library=(apply_rotary, rotary_angles), exercise="rope")
    g = generator(seed)
    B, T, d, base = 2, 6, 8, 100.0
    x = torch.randn(B, T, d, generator=g, dtype=torch.float64)
    got = run(rope, x.clone(), base)
    tensor_of_shape(got, (B, T, d), "the rotated x (same shape as x)")
    mistakes = [
        (dict(halves=True), "you rotated x_i with x_{i + d/2} (halves, as transformers stores its weights); "
                            "here the pairs are neighbours: (x_0, x_1), (x_2, x_3), ..."),
        (dict(sign=-1.0), "the rotation goes the wrong way: (x1, x2) -> (x1 cos - x2 sin, x1 sin + x2 cos)"),
        (dict(exponent=1.0), "theta_i = base^(-2i/d) for pair i: the exponent has a factor 2"),
        (dict(start=1), "positions count from 0: the first token is not rotated"),
    ]
    for switches, hint in mistakes:
        if close(got, _rope(x, base, **switches)):
            raise AssertionError(hint)
    if close(got, x):
        raise AssertionError("nothing was rotated: every pair at position m turns by m * theta_i")
    if not close(got, _rope(x, base)):
        raise AssertionError("values differ from rotating each pair (x_2i, x_2i+1) at position m by m * base^(-2i/d)")
    return passed("rope")


def _gqa(q, k, v, *, interleave=True, causal=True, scale=True):
    H, G = q.shape[1], k.shape[1]
    rep = (lambda t: t.repeat_interleave(H // G, 1)) if interleave else (lambda t: t.repeat(1, H // G, 1, 1))
    k, v = rep(k), rep(v)
    s = q @ k.transpose(-1, -2) / (math.sqrt(q.shape[-1]) if scale else 1.0)
    if causal:
        T = q.shape[-2]
        s = s.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
    return s.softmax(-1) @ v


def check_grouped_query_attention(grouped_query_attention, seed=0):
    """Check ``grouped_query_attention(q (B, H, T, d), k (B, G, T, d), v (B, G, T, d)) -> (B, H, T, d)``:
    causal scaled dot-product attention in which query head ``h`` uses key/value head ``h // (H / G)``."""
    check_own_work(grouped_query_attention, forbidden=_ATTENTION, library=(GroupedQueryAttention,),
                   exercise="grouped_query_attention")
    g = generator(seed)
    B, H, G, T, d = 2, 6, 2, 5, 4
    q = torch.randn(B, H, T, d, generator=g, dtype=torch.float64)
    k = torch.randn(B, G, T, d, generator=g, dtype=torch.float64)
    v = torch.randn(B, G, T, d, generator=g, dtype=torch.float64)
    got = run(grouped_query_attention, q.clone(), k.clone(), v.clone())
    tensor_of_shape(got, (B, H, T, d), "one output per query head (B, H, T, d)")
    mistakes = [
        (dict(interleave=False), "query head h shares key/value head h // (H / G): neighbouring query heads form a "
                                 "group (repeat_interleave), not every G-th head (repeat)"),
        (dict(causal=False), "no causal mask: position t may attend to positions 0..t only"),
        (dict(scale=False), "divide the scores by sqrt(d_head)"),
    ]
    for switches, hint in mistakes:
        if close(got, _gqa(q, k, v, **switches)):
            raise AssertionError(hint)
    if not close(got, _gqa(q, k, v)):
        raise AssertionError("values differ from softmax(q_h k_g^T / sqrt(d) + causal mask) v_g with g = h // (H / G)")
    return passed("grouped_query_attention")


def _planted(L, H, T, g, layer, head, offset=1):
    P = torch.rand(L, H, T, T, generator=g, dtype=torch.float64).tril() + 1e-3 * torch.eye(T)
    P = P / P.sum(-1, keepdim=True)
    t = torch.arange(offset, T)
    sharp = torch.zeros(T, T, dtype=torch.float64)
    sharp[t, t - offset] = 1.0
    sharp[0, 0] = 1.0
    if offset > 1:
        sharp[1:offset, 0] = 1.0
    P[layer, head] = 0.1 * P[layer, head] + 0.9 * sharp
    return P


def check_previous_token_head(previous_token_head, seed=0):
    """Check ``previous_token_head(patterns (n_layers, n_heads, T, T)) -> (layer, head)``: the head with the
    largest mean attention from each position ``t >= 1`` to ``t - 1``."""
    check_own_work(previous_token_head, forbidden=_SCORES, exercise="previous_token_head")
    g = generator(seed)
    L, H, T = 4, 3, 8
    layer, head = int(torch.randint(L, (1,), generator=g)), int(torch.randint(H, (1,), generator=g))
    P = _planted(L, H, T, g, layer, head)
    # decoys: a head that attends to itself, one that attends two back, one that only does so at t = 1
    decoys = [(l, h) for l in range(L) for h in range(H) if (l, h) != (layer, head)]
    pick = torch.randperm(len(decoys), generator=g)[:2].tolist()
    (l1, h1), (l2, h2) = decoys[pick[0]], decoys[pick[1]]
    P[l1, h1] = torch.eye(T, dtype=torch.float64)
    P[l2, h2] = _planted(1, 1, T, g, 0, 0, offset=2)[0, 0]
    got = run(previous_token_head, P.clone())
    if isinstance(got, torch.Tensor) and got.numel() == 2:
        got = tuple(int(i) for i in got.tolist())
    if isinstance(got, int) or (isinstance(got, torch.Tensor) and got.numel() == 1):
        raise AssertionError("return the pair (layer, head), not one flat index: layer = i // n_heads, "
                             "head = i % n_heads")
    if not (isinstance(got, (tuple, list)) and len(got) == 2):
        raise AssertionError(f"return the pair (layer, head), got {_what(got)}")
    got = tuple(int(i) for i in got)
    if got == (l1, h1):
        raise AssertionError("that head attends to the token itself (the diagonal t -> t); the previous token is "
                             "the entry just below it, patterns[..., t, t - 1]")
    if got == (l2, h2):
        raise AssertionError("that head attends two tokens back; take patterns[..., t, t - 1], one step back")
    if got == (head, layer) and head != layer:
        raise AssertionError("(head, layer) is swapped: return (layer, head)")
    if got != (layer, head):
        raise AssertionError("not the head with the largest mean attention to the previous token: average "
                             "patterns[l, h, t, t - 1] over t = 1 .. T - 1 and take the argmax")
    return passed("previous_token_head")
