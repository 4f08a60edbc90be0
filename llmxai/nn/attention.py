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
    if lengths.numel() and (int(lengths.min()) < 0 or int(lengths.max()) > T):
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
    validate.tensor(v, "v", min_ndim=2, floating=True)
    scores = attention_scores(q, k, mask, scale)  # (..., Tq, Tk)
    if v.dtype != q.dtype:
        raise TypeError(f"q, k, v: expected one dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v: expected the same number of keys Tk, got k with {k.shape[-2]} and v with {v.shape[-2]}"
        )
    _check_batch(q, k, v)
    weights = masked_softmax(scores)
    return weights @ v, weights  # (..., Tq, d_v), (..., Tq, Tk)


def attention_scores(q, k, mask=None, scale=None):
    """Scaled, masked scores ``q k^T * scale`` of shape ``(..., Tq, Tk)``, before the softmax.

    ``scale`` defaults to ``1/sqrt(d_k)`` (Vaswani et al. 2017, sec. 3.2.1); blocked
    entries are ``-inf``. The mask follows :func:`scaled_dot_product_attention`.
    """
    for name, t in (("q", q), ("k", k)):
        validate.tensor(t, name, min_ndim=2, floating=True)
    if q.dtype != k.dtype:
        raise TypeError(f"q, k: expected one dtype, got {q.dtype}, {k.dtype}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k: expected the same feature size d_k, got q (..., {q.shape[-1]}) and k (..., {k.shape[-1]})"
        )
    if q.shape[-1] == 0 or k.shape[-2] == 0:
        raise ValueError(f"expected d_k >= 1 and at least one key, got q {tuple(q.shape)} and k {tuple(k.shape)}")
    _check_batch(q, k)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else validate.number(scale, "scale")
    # Scaling q (Tq x d_k numbers) instead of the scores (Tq x Tk) saves a pass; the
    # matmul's output is not needed by its backward, so masking it in place is safe.
    scores = (q * scale) @ k.transpose(-2, -1)  # (..., Tq, Tk)
    if mask is None:
        return scores
    mask = _check_mask(mask, scores)
    if mask.dtype == torch.bool:
        return scores.masked_fill_(~mask, float("-inf"))
    return scores.add_(mask.to(scores.dtype))


def masked_softmax(scores):
    """Softmax over the last axis, ``p_j = exp(s_j - m) / sum_k exp(s_k - m)`` with ``m = max_k s_k``.

    Stable (the row maximum is subtracted), and a row whose scores are all ``-inf``
    maps to zeros with zero gradient. Its backward is the softmax vector-Jacobian
    product ``ds = p * (dp - sum_j dp_j p_j)``, written out by hand so that the
    intermediate ``exp`` need not be stored; it is itself differentiable.
    """
    validate.tensor(scores, "scores", min_ndim=1, floating=True, finite=False)
    if scores.shape[-1] == 0:
        raise ValueError(f"scores: expected at least one key (last axis), got shape {tuple(scores.shape)}")
    return _MaskedSoftmax.apply(scores)


class _MaskedSoftmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, scores):
        row_max = scores.amax(dim=-1, keepdim=True)
        # The row maxima expose NaN and +inf (which -inf masking never produces) for free.
        if not bool((row_max < float("inf")).all()):
            raise ValueError("scores: expected finite values or -inf (blocked), got NaN or +inf")
        row_max = torch.where(torch.isfinite(row_max), row_max, torch.zeros_like(row_max))
        p = scores - row_max
        p.exp_()
        total = p.sum(dim=-1, keepdim=True)
        p.div_(torch.where(total > 0, total, torch.ones_like(total)))
        ctx.save_for_backward(p)
        return p

    @staticmethod
    def backward(ctx, dp):
        (p,) = ctx.saved_tensors
        ds = dp * p  # (..., Tk)
        return ds.addcmul_(p, ds.sum(dim=-1, keepdim=True), value=-1)  # p*dp - p*(sum_j dp_j p_j)


def _check_batch(*ts):
    try:
        torch.broadcast_shapes(*(t.shape[:-2] for t in ts))
    except RuntimeError:
        shapes = ", ".join(str(tuple(t.shape)) for t in ts)
        raise ValueError(f"q, k, v: expected batch dimensions that broadcast, got {shapes}") from None


def _check_mask(mask, scores):
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask: expected a bool or float tensor, got {type(mask).__name__}")
    try:
        fits = torch.broadcast_shapes(mask.shape, scores.shape) == scores.shape
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(
            f"mask: expected a shape that broadcasts to the scores {tuple(scores.shape)} (..., Tq, Tk), "
            f"got {tuple(mask.shape)}"
        )
    if mask.dtype == torch.bool:
        return mask
    if mask.is_floating_point():
        if bool(torch.isnan(mask).any()):
            raise ValueError("mask: expected no NaN in an additive float mask")
        return mask
    raise TypeError(f"mask: expected dtype torch.bool or a float dtype, got {mask.dtype}")
