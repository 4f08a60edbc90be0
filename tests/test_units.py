import numpy as np
import pytest
import torch

from llmxai.explain import unit_correlations

D = torch.float64


def test_matches_numpy_corrcoef_per_unit():
    g = torch.Generator().manual_seed(0)
    A = torch.randn(4, 7, 5, generator=g, dtype=D)  # (B, T, d)
    y = (torch.rand(4, 7, generator=g) > 0.6).to(D)
    r = unit_correlations(A, y)
    a, b = A.reshape(-1, 5).numpy(), y.reshape(-1).numpy()
    expected = [np.corrcoef(a[:, k], b)[0, 1] for k in range(5)]
    assert r.shape == (5,) and r.dtype == D
    assert np.allclose(r.numpy(), expected, atol=1e-12)


def test_mask_keeps_only_real_positions():
    g = torch.Generator().manual_seed(1)
    A = torch.randn(3, 6, 4, generator=g, dtype=D)
    y = torch.randn(3, 6, generator=g, dtype=D)
    mask = torch.arange(6)[None] < torch.tensor([6, 2, 4])[:, None]  # (B, T)
    r = unit_correlations(A, y, mask)
    expected = unit_correlations(A[mask], y[mask])
    assert torch.allclose(r, expected, atol=1e-12)
    A_garbage = A.clone()
    A_garbage[~mask] = 1e6  # padding must not matter
    assert torch.allclose(unit_correlations(A_garbage, y, mask), r, atol=1e-12)


def test_planted_unit_is_found_and_signs_and_constants():
    g = torch.Generator().manual_seed(2)
    y = (torch.rand(200, generator=g) > 0.5).to(D)
    A = torch.randn(200, 6, generator=g, dtype=D)
    A[:, 3] = -2 * y + 0.1 * torch.randn(200, generator=g, dtype=D)  # anti-correlated unit
    A[:, 5] = 7.0  # constant: no defined correlation
    r = unit_correlations(A, y)
    assert int(r.abs().argmax()) == 3 and r[3] < -0.95
    assert r[5] == 0
    assert torch.allclose(unit_correlations(A, y.bool()), r, atol=1e-12)  # a bool indicator works too
    assert torch.all(r.abs() <= 1 + 1e-12)
    assert torch.all(unit_correlations(A, torch.zeros(200, dtype=D)) == 0)


def test_float32_in_float32_out():
    A = torch.randn(10, 3)
    r = unit_correlations(A, torch.arange(10.0))
    assert r.dtype == torch.float32
    assert torch.allclose(r.double(), unit_correlations(A.double(), torch.arange(10.0, dtype=D)), atol=1e-6)


def test_bad_inputs():
    A = torch.randn(4, 5, 3)
    with pytest.raises(TypeError, match="activations"):
        unit_correlations(A.long(), torch.zeros(4, 5))
    with pytest.raises(TypeError, match="activations"):
        unit_correlations(A.numpy(), torch.zeros(4, 5))
    with pytest.raises(ValueError, match="indicator: expected shape"):
        unit_correlations(A, torch.zeros(4, 6))
    with pytest.raises(ValueError, match="mask"):
        unit_correlations(A, torch.zeros(4, 5), torch.ones(4, 5))
    with pytest.raises(ValueError, match="mask"):
        unit_correlations(A, torch.zeros(4, 5), torch.ones(4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="at least 2"):
        unit_correlations(A, torch.zeros(4, 5), torch.zeros(4, 5, dtype=torch.bool))
    nan = A.clone()
    nan[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="finite"):
        unit_correlations(nan, torch.zeros(4, 5))
