"""Principal component analysis from the covariance matrix.

The directions of largest variance of centred data ``X`` are the eigenvectors of its
covariance ``C = X^T X / (n - 1)`` with the largest eigenvalues (Pearson 1901; Hotelling 1933).
"""

from dataclasses import dataclass

import torch

from llmxai import validate


@dataclass
class PCA:
    """A fitted projection: ``components`` (k, d), ``mean`` (d,), ``explained_variance`` (k,)."""

    components: torch.Tensor
    mean: torch.Tensor
    explained_variance: torch.Tensor
    explained_variance_ratio: torch.Tensor

    def transform(self, X):
        """Coordinates of the rows of ``X`` (n, d) along the components: (n, k)."""
        validate.tensor(X, "X", ndim=2, floating=True)
        validate.same_size(self.mean.shape[0], X.shape[1], "X: number of features")
        return (X - self.mean) @ self.components.T


def pca(X, k=2):
    """Fit PCA with ``k`` components to the rows of ``X`` (n, d); return a :class:`PCA`.

    Each component's sign is fixed so that its largest-magnitude entry is positive, which
    makes the result deterministic (eigenvectors are only defined up to sign).
    """
    validate.tensor(X, "X", ndim=2, floating=True)
    n, d = X.shape
    if n < 2:
        raise ValueError(f"X: expected at least 2 rows to estimate a covariance, got {n}")
    validate.positive_int(k, "k")
    if k > d:
        raise ValueError(f"k: expected at most d = {d} components, got {k}")
    mean = X.mean(dim=0)
    Xc = X - mean  # (n, d)
    cov = Xc.T @ Xc / (n - 1)  # (d, d), symmetric
    eigenvalues, eigenvectors = torch.linalg.eigh(cov)  # ascending order
    order = torch.argsort(eigenvalues, descending=True)[:k]
    components = eigenvectors[:, order].T  # (k, d)
    flip = torch.sign(components.gather(1, components.abs().argmax(dim=1, keepdim=True)))
    components = components * flip
    variance = eigenvalues[order].clamp_min(0)
    return PCA(components, mean, variance, variance / eigenvalues.clamp_min(0).sum())
