"""Input checks shared by every public function.

Each check raises ``TypeError`` (wrong kind of thing) or ``ValueError`` (right kind,
wrong content) with a message naming what was expected and what came, so that bad
input never fails later with an opaque broadcasting or indexing error.
"""

import torch


def _describe(x):
    if isinstance(x, torch.Tensor):
        return f"tensor of shape {tuple(x.shape)} and dtype {x.dtype}"
    return type(x).__name__


def tensor(x, name, *, ndim=None, min_ndim=None, floating=None, finite=True):
    """Check that ``x`` is a tensor with the given rank and kind; return it.

    ``ndim`` may be an int or a tuple of allowed ranks. ``floating=True`` demands a
    floating dtype, ``floating=False`` an integer dtype (token ids). ``finite`` rejects
    NaN and infinity in floating tensors.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {_describe(x)}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.dim() not in allowed:
            want = " or ".join(f"{n}-D" for n in allowed)
            raise ValueError(f"{name}: expected a {want} tensor, got {_describe(x)}")
    if min_ndim is not None and x.dim() < min_ndim:
        raise ValueError(f"{name}: expected at least {min_ndim} dimensions, got {_describe(x)}")
    if floating is True and not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got {_describe(x)}")
    if floating is False and (x.is_floating_point() or x.is_complex() or x.dtype == torch.bool):
        raise TypeError(f"{name}: expected an integer tensor (token ids), got {_describe(x)}")
    if finite and x.is_floating_point() and x.numel() and not _all_finite(x):
        raise ValueError(f"{name}: expected finite values, got NaN or infinity in {_describe(x)}")
    return x


def _all_finite(x):
    # min and max propagate NaN and expose +-inf: one fast reduction instead of
    # torch.isfinite(x).all(), which is about 100x slower on a large CPU tensor.
    lo, hi = torch.aminmax(x.detach())
    return bool(torch.isfinite(lo) & torch.isfinite(hi))


def token_ids(ids, name, vocab_size):
    """Check a ``(B, T)`` integer tensor of ids in ``[0, vocab_size)`` with ``T >= 1``."""
    tensor(ids, name, ndim=2, floating=False)
    if ids.shape[1] == 0:
        raise ValueError(f"{name}: expected at least one token per sequence, got {_describe(ids)}")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(
            f"{name}: expected ids in [0, {vocab_size}), got values from {int(ids.min())} to {int(ids.max())}"
        )
    return ids


def same_size(a, b, what):
    """Check two sizes agree (e.g. batch sizes, feature sizes)."""
    if a != b:
        raise ValueError(f"{what}: expected {a}, got {b}")


def positive_int(value, name, minimum=1):
    """Check ``value`` is an int ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return value


def choice(value, name, options):
    """Check ``value`` is one of ``options``."""
    if value not in options:
        raise ValueError(f"{name}: expected one of {sorted(options)}, got {value!r}")
    return value


def seed(value, name="seed"):
    """Check ``value`` is a usable random seed: an int in ``[0, 2**63)`` (bool refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an int seed, got {type(value).__name__}")
    if not 0 <= value < 2**63:
        raise ValueError(f"{name}: expected a seed in [0, 2**63), got {value}")
    return value


def probability(value, name):
    """Check ``value`` is a real number in ``[0, 1]``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a probability (float), got {type(value).__name__}")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}: expected a probability in [0, 1], got {value}")
    return float(value)
