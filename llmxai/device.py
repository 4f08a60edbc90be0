"""Choosing where tensors live, and seeding everything that draws random numbers."""

import os
import random

import numpy as np
import torch

FORCE_CPU_ENV = "LLMXAI_DEVICE"
SEED_OFFSET_ENV = "LLMXAI_SEED_OFFSET"  # shifts every seed; the robustness command sets it


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


def seed_offset():
    """The shift ``k`` that ``LLMXAI_SEED_OFFSET=k`` adds to every seed (0 when unset).

    A claim that holds only for seed 0 is a claim about one training trajectory; running
    the book with other offsets tests that each claim is a property of the method.
    """
    raw = os.environ.get(SEED_OFFSET_ENV, "").strip()
    if not raw:
        return 0
    try:
        k = int(raw)
    except ValueError:
        raise ValueError(f"{SEED_OFFSET_ENV}: expected a whole number >= 0, got {raw!r}") from None
    if k < 0:
        raise ValueError(f"{SEED_OFFSET_ENV}: expected a whole number >= 0, got {k}")
    return k


def shift_seed(seed):
    """``seed`` plus :func:`seed_offset`: the seed every random draw in llmxai and the book really uses."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed: expected an int, got {type(seed).__name__} {seed!r:.40}")
    if seed < 0:
        raise ValueError(f"seed: expected an int >= 0, got {seed}")
    return seed + seed_offset()


def generator(seed=0, device=None):
    """A ``torch.Generator`` on ``device`` seeded with :func:`shift_seed` ``(seed)``."""
    g = torch.Generator() if device is None else torch.Generator(device=device)
    return g.manual_seed(shift_seed(seed))


def seed_everything(seed=0):
    """Seed Python, NumPy and torch (CPU and CUDA) with :func:`shift_seed` ``(seed)``; return that seed.

    A run then repeats exactly on one machine; ``LLMXAI_SEED_OFFSET`` moves every seed at once.
    """
    seed = shift_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return seed
