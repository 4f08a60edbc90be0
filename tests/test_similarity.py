import pytest
import torch
import torch.nn.functional as F

from llmxai.similarity import cosine_similarity, nearest_neighbours


def test_matches_torch_pairwise():
    g = torch.Generator().manual_seed(0)
    A = torch.randn(5, 7, generator=g, dtype=torch.float64)
    B = torch.randn(3, 7, generator=g, dtype=torch.float64)
    S = cosine_similarity(A, B)
    oracle = F.cosine_similarity(A[:, None, :], B[None, :, :], dim=-1)  # (5, 3) by broadcasting
    assert S.shape == (5, 3)
    assert torch.allclose(S, oracle, atol=1e-12, rtol=0)


def test_self_similarity_and_zero_vector():
    A = torch.tensor([[3.0, 4.0], [0.0, 0.0], [-6.0, -8.0], [4.0, -3.0]], dtype=torch.float64)
    S = cosine_similarity(A)
    expected = torch.tensor([[1.0, 0.0, -1.0, 0.0],
                             [0.0, 0.0, 0.0, 0.0],
                             [-1.0, 0.0, 1.0, 0.0],
                             [0.0, 0.0, 0.0, 1.0]], dtype=torch.float64)
    assert torch.allclose(S, expected, atol=1e-15, rtol=0)
    assert torch.allclose(S, F.cosine_similarity(A[:, None], A[None], dim=-1), atol=1e-15, rtol=0)


def test_scale_invariant():
    g = torch.Generator().manual_seed(1)
    A = torch.randn(4, 3, generator=g, dtype=torch.float64)
    scale = torch.tensor([[0.1], [2.0], [5.0], [30.0]], dtype=torch.float64)
    assert torch.allclose(cosine_similarity(A * scale), cosine_similarity(A), atol=1e-14, rtol=0)


def test_nearest_neighbours_by_brute_force():
    g = torch.Generator().manual_seed(2)
    W = torch.randn(12, 4, generator=g, dtype=torch.float64)
    ids = torch.tensor([0, 5, 11])
    sims, idx = nearest_neighbours(W, ids, k=3)
    for row, i in enumerate(ids.tolist()):
        scores = [(float(F.cosine_similarity(W[i], W[j], dim=0)), j) for j in range(12) if j != i]
        best = sorted(scores, key=lambda s: -s[0])[:3]
        assert idx[row].tolist() == [j for _, j in best]
        assert torch.allclose(sims[row], torch.tensor([s for s, _ in best], dtype=torch.float64), atol=1e-12, rtol=0)


def test_nearest_neighbours_self_and_ties():
    W = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [3.0, 0.0]])
    sims, idx = nearest_neighbours(W, torch.tensor([0]), k=3, exclude_self=False)
    assert idx.tolist() == [[0, 1, 3]]  # three exact ties at 1, kept in index order
    assert torch.allclose(sims, torch.tensor([[1.0, 1.0, 1.0]]))
    _, idx = nearest_neighbours(W, torch.tensor([0]), k=3)
    assert idx.tolist() == [[1, 3, 2]]


@pytest.mark.parametrize("bad, err", [
    (lambda: cosine_similarity([[1.0]]), TypeError),
    (lambda: cosine_similarity(torch.ones(3)), ValueError),
    (lambda: cosine_similarity(torch.ones(3, 2, dtype=torch.long)), TypeError),
    (lambda: cosine_similarity(torch.ones(3, 2), torch.ones(3, 4)), ValueError),
    (lambda: cosine_similarity(torch.ones(3, 2), torch.ones(3, 2, dtype=torch.float64)), TypeError),
    (lambda: cosine_similarity(torch.tensor([[float("nan"), 1.0]])), ValueError),
    (lambda: cosine_similarity(torch.ones(3, 2), eps=0), ValueError),
    (lambda: nearest_neighbours(torch.ones(4, 2), torch.tensor([4])), ValueError),
    (lambda: nearest_neighbours(torch.ones(4, 2), torch.tensor([-1])), ValueError),
    (lambda: nearest_neighbours(torch.ones(4, 2), torch.tensor([], dtype=torch.long)), ValueError),
    (lambda: nearest_neighbours(torch.ones(4, 2), torch.tensor([0.0])), TypeError),
    (lambda: nearest_neighbours(torch.ones(4, 2), torch.tensor([0]), k=4), ValueError),
    (lambda: nearest_neighbours(torch.ones(4, 2), torch.tensor([0]), k=0), ValueError),
])
def test_bad_input(bad, err):
    with pytest.raises(err, match="expected"):
        bad()
