"""Choosing where tensors live, and seeding everything that draws random numbers."""

import os
import random

import numpy as np
import torch

FORCE_CPU_ENV = "LLMXAI_DEVICE"


def get_device(prefer=None):
    """Return CUDA if available, else Apple MPS, else CPU.

    ``prefer`` (or the environment variable ``LLMXAI_DEVICE``) names a device
    explicitly, e.g. ``"cpu"``; asking for a device that is not present is an error
    rather than a silent fallback, so a run never pretends to be on a GPU.
    """
    wanted = prefer if prefer is not None else os.environ.get(FORCE_CPU_ENV)
    if wanted:
        wanted = str(wanted).lower()
        if wanted == "cuda" and not torch.cuda.is_available():
            raise ValueError("device 'cuda' was asked for, but torch.cuda.is_available() is False")
        if wanted == "mps" and not _mps_available():
            raise ValueError("device 'mps' was asked for, but Apple MPS is not available")
        if wanted not in ("cpu", "cuda", "mps") and not wanted.startswith("cuda:"):
            raise ValueError(f"expected device 'cpu', 'cuda', 'cuda:N' or 'mps', got {wanted!r}")
        return torch.device(wanted)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available():
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def seed_everything(seed=0):
    """Seed Python, NumPy and torch (CPU and CUDA) so a run repeats exactly on CPU."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"expected an int seed, got {type(seed).__name__}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return seed
