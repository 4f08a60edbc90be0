import numpy as np
import pytest
import torch

from llmxai.pca import pca


def test_matches_numpy_svd():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(50, 6, generator=g, dtype=torch.float64) @ torch.randn(6, 6, generator=g, dtype=torch.float64)
    fit = pca(X, k=3)
    Xc = (X - X.mean(0)).numpy()
    _, s, vt = np.linalg.svd(Xc, full_matrices=False)
    # Same subspace and variances; directions equal up to sign.
    for i in range(3):
        assert abs(abs(float(fit.components[i] @ torch.from_numpy(vt[i]))) - 1) < 1e-10
    np.testing.assert_allclose(fit.explained_variance.numpy(), s[:3] ** 2 / 49, rtol=1e-10)
    np.testing.assert_allclose(fit.explained_variance_ratio.sum().item(), (s[:3] ** 2).sum() / (s ** 2).sum(), rtol=1e-10)


def test_transform_centres_and_projects():
    X = torch.tensor([[1.0, 0.0], [3.0, 0.0], [5.0, 0.0]], dtype=torch.float64)
    fit = pca(X, k=1)
    assert torch.allclose(fit.components, torch.tensor([[1.0, 0.0]], dtype=torch.float64))
    assert torch.allclose(fit.transform(X)[:, 0], torch.tensor([-2.0, 0.0, 2.0], dtype=torch.float64))


@pytest.mark.parametrize("X, k, error, text", [
    (torch.randn(1, 3), 1, ValueError, "at least 2 rows"),
    (torch.randn(5, 3), 4, ValueError, "at most d"),
    (torch.randn(5, 3), 0, ValueError, ">= 1"),
    (torch.ones(5, 3, dtype=torch.long), 1, TypeError, "floating"),
    (torch.randn(5), 1, ValueError, "2-D"),
])
def test_bad_input(X, k, error, text):
    with pytest.raises(error, match=text):
        pca(X, k)
