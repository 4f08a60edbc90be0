"""Scaled dot-product attention, from tensor operations.

``softmax(Q K^T / sqrt(d_k)) V`` (Vaswani et al. 2017, eq. 1). Softmax runs over the
keys (the last axis of the scores), so each query's weights sum to one.
"""

import math

import torch

from llmxai import validate


def causal_mask(T, device=None):
    """Boolean ``(T, T)`` mask, True where query ``i`` may attend to key ``j <= i``."""
    validate.positive_int(T, "T")
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def padding_mask(lengths, T):
    """Boolean ``(B, 1, T)`` key mask from sequence lengths: True on real tokens, False on padding."""
    validate.tensor(lengths, "lengths", ndim=1, floating=False)
    validate.positive_int(T, "T")
    if int(lengths.min()) < 0 or int(lengths.max()) > T:
        raise ValueError(f"lengths: expected values in [0, {T}], got {lengths.tolist()}")
    keep = torch.arange(T, device=lengths.device)[None, :] < lengths[:, None]  # (B, T)
    return keep[:, None, :]  # (B, 1, T): broadcasts over queries


def scaled_dot_product_attention(q, k, v, mask=None, scale=None):
    """Return ``(output, weights)`` for queries ``q (..., Tq, d_k)``, keys ``k (..., Tk, d_k)``
    and values ``v (..., Tk, d_v)``.

    ``mask`` broadcasts to ``(..., Tq, Tk)``. A boolean mask keeps the entries that are
    True (as in :func:`torch.nn.functional.scaled_dot_product_attention`); a float mask is
    added to the scores (use ``-inf`` to block). ``scale`` defaults to ``1/sqrt(d_k)``.

    A query whose keys are all blocked has nothing to attend to: its weights are all
    zero and its output is the zero vector (softmax of an all ``-inf`` row would be
    NaN; we define it as zero, and its gradient as zero, instead).
    """
    for name, t in (("q", q), ("k", k), ("v", v)):
        validate.tensor(t, name, min_ndim=2, floating=True)
    if not (q.dtype == k.dtype == v.dtype):
        raise TypeError(f"q, k, v: expected one dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k: expected the same feature size d_k, got q (..., {q.shape[-1]}) and k (..., {k.shape[-1]})"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v: expected the same number of keys Tk, got k with {k.shape[-2]} and v with {v.shape[-2]}"
        )
    if q.shape[-1] == 0 or k.shape[-2] == 0:
        raise ValueError(f"expected d_k >= 1 and at least one key, got q {tuple(q.shape)} and k {tuple(k.shape)}")
    try:
        torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except RuntimeError:
        raise ValueError(
            f"q, k, v: expected batch dimensions that broadcast, got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        ) from None
    d_k = q.shape[-1]
    scale = 1.0 / math.sqrt(d_k) if scale is None else float(scale)

    scores = (q @ k.transpose(-2, -1)) * scale  # (..., Tq, Tk)
    if mask is not None:
        scores = _apply_mask(scores, mask)
    weights = _masked_softmax(scores)
    return weights @ v, weights  # (..., Tq, d_v), (..., Tq, Tk)


def _apply_mask(scores, mask):
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask: expected a bool or float tensor, got {type(mask).__name__}")
    try:
        torch.broadcast_shapes(mask.shape, scores.shape)
        fits = torch.broadcast_shapes(mask.shape, scores.shape) == scores.shape
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(
            f"mask: expected a shape that broadcasts to the scores {tuple(scores.shape)} (..., Tq, Tk), "
            f"got {tuple(mask.shape)}"
        )
    if mask.dtype == torch.bool:
        return scores.masked_fill(~mask, float("-inf"))
    if mask.is_floating_point():
        if bool(torch.isnan(mask).any()):
            raise ValueError("mask: expected no NaN in an additive float mask")
        return scores + mask.to(scores.dtype)
    raise TypeError(f"mask: expected dtype torch.bool or a float dtype, got {mask.dtype}")


def _masked_softmax(scores):
    """Softmax over the last axis, stable, with all-blocked rows mapped to zeros."""
    row_max = scores.amax(dim=-1, keepdim=True)
    # Subtracting the row maximum keeps exp() from overflowing; it is a constant per
    # row, so it changes nothing mathematically (and needs no gradient).
    row_max = torch.where(torch.isfinite(row_max), row_max, torch.zeros_like(row_max)).detach()
    e = torch.exp(scores - row_max)
    total = e.sum(dim=-1, keepdim=True)
    return e / torch.where(total > 0, total, torch.ones_like(total))
