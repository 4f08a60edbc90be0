"""Scikit-learn's 8x8 handwritten digits as image tensors, with a fixed seeded split.

The 1,797 images ship inside scikit-learn (``sklearn.datasets.load_digits``; from the UCI
optical recognition of handwritten digits data, Alpaydin and Kaynak 1998), so nothing is
downloaded. Pixel values 0..16 are divided by 16 to lie in ``[0, 1]``.
"""

import functools
from dataclasses import dataclass

import numpy as np
import torch

from llmxai import validate
from llmxai.device import shift_seed


@dataclass
class ImageSplit:
    """Images ``(N, 1, 8, 8)`` float in [0, 1] and labels ``(N,)`` long."""

    images: torch.Tensor
    labels: torch.Tensor

    @property
    def tensors(self):
        """``(images, labels)``: the batch tuple that :func:`llmxai.train.fit` takes."""
        return self.images, self.labels

    def __len__(self):
        return len(self.labels)


@dataclass
class ImageData:
    train: ImageSplit
    test: ImageSplit
    classes: tuple


@functools.lru_cache(maxsize=1)
def _load_digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images, digits.target


def digits_dataset(test_fraction=0.25, seed=0, *, dtype=torch.float32):
    """The digits split into train and test, stratified by class, the same split per seed."""
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)) \
            or not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction: expected a number in (0, 1), got {test_fraction!r}")
    validate.seed(seed)
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype: expected a floating torch dtype, got {dtype!r}")
    images, target = _load_digits()
    x = torch.as_tensor(images / 16.0, dtype=dtype)[:, None]  # (N, 1, 8, 8)
    y = torch.as_tensor(target, dtype=torch.long)  # (N,)
    # Stratify by hand: shuffle each class with one seeded generator and take the same
    # fraction from each, so every class is in both splits in proportion.
    rng = np.random.default_rng(shift_seed(seed))
    test_idx = []
    for c in range(10):
        members = np.flatnonzero(target == c)
        rng.shuffle(members)
        test_idx.extend(members[: round(len(members) * test_fraction)].tolist())
    is_test = np.zeros(len(y), dtype=bool)
    is_test[test_idx] = True
    test = torch.as_tensor(np.flatnonzero(is_test))
    train = torch.as_tensor(np.flatnonzero(~is_test))
    return ImageData(ImageSplit(x[train], y[train]), ImageSplit(x[test], y[test]), tuple(range(10)))
