"""Single units that track a known property: correlate every unit with an indicator.

The "neuron search" behind interpretable-unit findings in recurrent networks (Karpathy,
Johnson & Fei-Fei 2015, arXiv:1506.02078): record activations ``A`` at every position,
mark each position with a property ``y`` (e.g. 1 inside a negation's scope), and rank
units by the Pearson correlation of their activation with ``y``.
"""

import torch

from llmxai import validate


def unit_correlations(activations, indicator, mask=None):
    """Pearson correlation of each unit with ``indicator``: ``activations (..., d)``, ``indicator (...)`` -> ``(d,)``.

    ``mask`` (shaped like ``indicator``, bool) keeps only the positions where it is True
    (e.g. real tokens, not padding). A unit (or an indicator) that is constant over the kept
    positions has no defined correlation; it gets 0, so that it never wins a search.
    """
    validate.tensor(activations, "activations", min_ndim=1, floating=True)
    validate.tensor(indicator, "indicator", min_ndim=0)
    if tuple(indicator.shape) != tuple(activations.shape[:-1]):
        raise ValueError(f"indicator: expected shape {tuple(activations.shape[:-1])} (activations without their "
                         f"last dimension), got {tuple(indicator.shape)}")
    if mask is not None:
        validate.tensor(mask, "mask")
        if mask.dtype != torch.bool or tuple(mask.shape) != tuple(indicator.shape):
            raise ValueError(f"mask: expected a bool tensor of shape {tuple(indicator.shape)}, "
                             f"got {mask.dtype} of shape {tuple(mask.shape)}")
    dtype = torch.promote_types(activations.dtype, torch.float64)
    A = activations.to(dtype).reshape(-1, activations.shape[-1])  # (n, d)
    y = indicator.to(dtype).reshape(-1)  # (n,)
    if mask is not None:
        keep = mask.reshape(-1).to(A.device)
        A, y = A[keep], y[keep]
    if y.shape[0] < 2:
        raise ValueError(f"expected at least 2 positions to correlate, got {y.shape[0]}")
    A, y = A - A.mean(0), y - y.mean()
    denom = A.norm(dim=0) * y.norm()  # (d,)
    r = (A * y[:, None]).sum(0) / denom.clamp_min(torch.finfo(dtype).tiny)
    return torch.where(denom > 0, r, torch.zeros_like(r)).to(activations.dtype)
