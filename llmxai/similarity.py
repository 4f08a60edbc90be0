"""Cosine similarity between sets of vectors, and nearest neighbours by it.

``cos(a, b) = a . b / (max(|a|, eps) max(|b|, eps))``: the cosine of the angle between
``a`` and ``b``, 1 for the same direction, -1 for opposite ones, 0 for orthogonal ones.
Each norm is clamped at ``eps``, as in :func:`torch.nn.functional.cosine_similarity`, so
a zero vector has similarity 0 to everything instead of dividing by zero.
"""

import torch

from llmxai import validate


def cosine_similarity(A, B=None, eps=1e-8):
    """Matrix ``S (n, m)`` with ``S[i, j] = cos(A[i], B[j])`` for rows of ``A (n, d)``, ``B (m, d)``.

    Without ``B``, the similarities of the rows of ``A`` with each other ``(n, n)``.
    """
    validate.tensor(A, "A", ndim=2, floating=True)
    if B is None:
        B = A
    validate.tensor(B, "B", ndim=2, floating=True)
    validate.same_size(A.shape[1], B.shape[1], "B: vector size (last dimension)")
    if A.dtype != B.dtype or A.device != B.device:
        raise TypeError(f"B: expected dtype {A.dtype} on {A.device} like A, got {B.dtype} on {B.device}")
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0:
        raise ValueError(f"eps: expected a positive number, got {eps!r}")
    A_unit = A / A.norm(dim=1, keepdim=True).clamp_min(eps)  # (n, d)
    B_unit = B / B.norm(dim=1, keepdim=True).clamp_min(eps)  # (m, d)
    return A_unit @ B_unit.T  # (n, m)


def nearest_neighbours(W, ids, k=5, exclude_self=True):
    """The ``k`` rows of ``W (V, d)`` most cosine-similar to each row ``W[i]``, ``i`` in ``ids``.

    Returns ``(similarity (n, k), index (n, k))`` sorted from most to least similar; ties
    go to the smaller index. With ``exclude_self`` a row is not its own neighbour.
    """
    validate.tensor(W, "W", ndim=2, floating=True)
    validate.tensor(ids, "ids", ndim=1, floating=False)
    V = W.shape[0]
    if ids.numel() == 0:
        raise ValueError("ids: expected at least one row index, got none")
    if int(ids.min()) < 0 or int(ids.max()) >= V:
        raise ValueError(f"ids: expected row indices in [0, {V}), got values from {int(ids.min())} to {int(ids.max())}")
    validate.positive_int(k, "k")
    available = V - 1 if exclude_self else V
    if k > available:
        raise ValueError(f"k: expected at most {available} neighbours (rows of W{' other than the query' * exclude_self}), got {k}")
    ids = ids.to(W.device)
    S = cosine_similarity(W[ids], W)  # (n, V)
    if exclude_self:
        S = S.scatter(1, ids[:, None], float("-inf"))
    # A stable sort on the negated scores keeps equal scores in index order.
    order = torch.sort(-S, dim=1, stable=True).indices[:, :k]  # (n, k)
    return S.gather(1, order), order
