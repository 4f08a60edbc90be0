"""Lesson 4 (embeddings): the gradient of a lookup table, cosine similarity, nearest neighbours."""

import torch
import torch.nn.functional as F

from llmxai.device import generator
from llmxai.lesson_checks.common import _what, check_own_work, close, passed, run, tensor_of_shape
from llmxai.similarity import cosine_similarity, nearest_neighbours


def check_embedding_grad(embedding_grad, seed=0):
    """Check ``embedding_grad(ids (B, T), grad_E (B, T, d), V) -> (V, d)``: row ``v`` sums ``grad_E`` where ``ids == v``."""
    check_own_work(embedding_grad, forbidden=("grad", "backward", "autograd"), exercise="embedding_grad")
    g = generator(seed)
    V, d = 7, 3
    ids = torch.tensor([[1, 3, 3, 0], [5, 1, 3, 2]])  # 3 three times, 1 twice; 4 and 6 never
    ids = ids[torch.randperm(2, generator=g)]
    G = torch.randn(2, 4, d, generator=g, dtype=torch.float64)
    got = run(embedding_grad, ids.clone(), G.clone(), V)
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (ids.numel(), d):
        raise AssertionError(f"one row per vocabulary entry: the result has the table's shape (V, d) = {(V, d)}, "
                             "not one row per token")
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (d, V):
        raise AssertionError(f"transposed: the table is (V, d) = {(V, d)}, one row per token id")
    tensor_of_shape(got, (V, d), "the gradient of the table (V, d)")
    want = torch.zeros(V, d, dtype=torch.float64).index_add_(0, ids.reshape(-1), G.reshape(-1, d))
    flat_ids, flat_G = ids.reshape(-1), G.reshape(-1, d)
    last = torch.zeros(V, d, dtype=torch.float64)
    last[flat_ids] = flat_G  # what an assignment keeps: one of the repeats
    counts = torch.bincount(flat_ids, minlength=V).clamp_min(1).double()[:, None]
    if close(got, want / counts):
        raise AssertionError("you averaged the repeats: the chain rule adds every use of a row, so sum them")
    if close(got, last) or (not close(got, want) and close(got[[0, 2, 5]], want[[0, 2, 5]])):
        raise AssertionError("a token that appears several times must receive the SUM of its gradients; "
                             "grad[ids] = ... keeps only one of them: use index_add_ (or a loop with +=)")
    if not close(got[[4, 6]], want[[4, 6]]):
        raise AssertionError("rows of tokens that do not occur get no gradient: they must stay 0")
    if not close(got, want):
        raise AssertionError("values differ: row v of the gradient is the sum of grad_E[b, t] over all "
                             "positions with ids[b, t] == v")
    return passed("embedding_grad")


def check_cosine_matrix(cosine_matrix, seed=0):
    """Check ``cosine_matrix(A (n, d), B (m, d)) -> (n, m)``, ``S[i, j] = cos(A[i], B[j])``."""
    check_own_work(cosine_matrix, forbidden=("cosine_similarity",), library=(cosine_similarity, F.cosine_similarity),
                   exercise="cosine_matrix")
    g = generator(seed)
    scales_a = torch.tensor([0.5, 1.0, 3.0, 7.0], dtype=torch.float64)[:, None]
    A = torch.randn(4, 5, generator=g, dtype=torch.float64) * scales_a  # rows of different lengths
    B = torch.randn(3, 5, generator=g, dtype=torch.float64) * 2.5
    got = run(cosine_matrix, A.clone(), B.clone())
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (3, 4):
        raise AssertionError("transposed: S[i, j] compares A[i] with B[j], shape (n, m)")
    tensor_of_shape(got, (4, 3), "S (n, m): one row per row of A, one column per row of B")
    unit = lambda M, dim: M / M.norm(dim=dim, keepdim=True)  # noqa: E731
    want = unit(A, 1) @ unit(B, 1).T
    if close(got, A @ B.T):
        raise AssertionError("that is the dot product: divide by both vectors' lengths, a.b / (|a| |b|)")
    if close(got, unit(A, 0) @ unit(B, 0).T):
        raise AssertionError("you normalised the columns: each ROW is a vector, so take the norm over dim=-1")
    if close(got, unit(A, 1) @ B.T) or close(got, A @ unit(B, 1).T):
        raise AssertionError("normalise both sides: a.b / (|a| |b|)")
    if close(got, 1 - want):
        raise AssertionError("that is the cosine distance, 1 - cos: return the similarity itself")
    if not close(got, want):
        raise AssertionError("values differ from (A[i] . B[j]) / (|A[i]| |B[j]|)")
    return passed("cosine_matrix")


def check_nearest(nearest, seed=0):
    """Check ``nearest(W (V, d), i, k) -> (k,)`` ids: the ``k`` rows most cosine-similar to ``W[i]``,
    most similar first, ``i`` itself excluded."""
    check_own_work(nearest, forbidden=("nearest_neighbours",), library=(nearest_neighbours,), exercise="nearest")
    g = generator(seed)
    V, d, k = 12, 4, 3
    W = torch.randn(V, d, generator=g, dtype=torch.float64)
    W = W * torch.linspace(0.3, 5.0, V, dtype=torch.float64)[torch.randperm(V, generator=g)][:, None]  # lengths differ
    i, *planted = torch.randperm(V, generator=g)[:5].tolist()
    u = W[i] / W[i].norm()
    for row, cos_u, length in zip(planted, (0.99, 0.95, 0.9, 0.3), (0.5, 1.0, 2.0, 30.0)):
        across = W[row] - (W[row] @ u) * u
        W[row] = length * (cos_u * u + (1 - cos_u ** 2) ** 0.5 * across / across.norm())
    # three short rows close to W[i]; one long row far from it, which wins a dot product
    cos = (W / W.norm(dim=1, keepdim=True)) @ (W[i] / W[i].norm())
    cos_others = cos.clone()
    cos_others[i] = -2
    want = cos_others.argsort(descending=True)[:k]
    got = run(nearest, W.clone(), i, k)
    if isinstance(got, (list, tuple)):
        got = torch.tensor(list(got))
    if not isinstance(got, torch.Tensor) or got.dtype.is_floating_point or tuple(got.shape) != (k,):
        raise AssertionError(f"expected {k} integer ids (a tensor of shape ({k},)), got {_what(got)}")
    got = got.long()
    if int(got[0]) == i:
        raise AssertionError("the word itself comes first (cosine 1): leave it out")
    dot = W @ W[i]
    dot[i] = -float("inf")
    if torch.equal(got, dot.argsort(descending=True)[:k]) and not torch.equal(got, want):
        raise AssertionError("ranked by the dot product, which favours long vectors: rank by the cosine")
    if set(got.tolist()) == set(want.tolist()) and not torch.equal(got, want):
        raise AssertionError("the right words in the wrong order: most similar first")
    cos_low = cos.clone()
    cos_low[i] = 2
    if torch.equal(got, cos_low.argsort()[:k]):
        raise AssertionError("those are the LEAST similar: sort by decreasing cosine")
    if not torch.equal(got, want):
        raise AssertionError("not the k most cosine-similar rows to W[i] (other than i)")
    return passed("nearest")
