"""Input checks shared by every public function.

Each check raises ``TypeError`` (wrong kind of thing) or ``ValueError`` (right kind,
wrong content) with a message naming what was expected and what came, so that bad
input never fails later with an opaque broadcasting or indexing error. The checks that
models share (dtypes, lengths, padding, embeddings) live here too, so that model files
hold models.
"""

import inspect
import math
import numbers

import torch
from numpy import bool_ as np_bool


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


def token_ids(ids, name, vocab_size, ndim=2):
    """Check a ``(B, T)`` (or, with ``ndim=(1, 2)``, also ``(T,)``) integer tensor of ids in
    ``[0, vocab_size)`` with ``T >= 1``."""
    tensor(ids, name, ndim=ndim, floating=False)
    if ids.shape[-1] == 0:
        raise ValueError(f"{name}: expected at least one token per sequence, got {_describe(ids)}")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(
            f"{name}: expected ids in [0, {vocab_size}), got values from {int(ids.min())} to {int(ids.max())}"
        )
    return ids


def id_list(ids, vocab_size, name="ids"):
    """A tokenizer's ids to decode, as a list of int in ``[0, vocab_size)``: a list, a tuple or a 1-D integer tensor."""
    if isinstance(ids, torch.Tensor):
        tensor(ids, name, ndim=1, floating=False)
        ids = ids.tolist()
    elif not isinstance(ids, (list, tuple)):
        raise TypeError(f"{name}: expected a list of int or a 1-D integer tensor, got {type(ids).__name__}")
    for i in ids:
        if isinstance(i, bool) or not isinstance(i, int):
            raise TypeError(f"{name}: expected int ids, got {type(i).__name__}")
        if not 0 <= i < vocab_size:
            raise ValueError(f"{name}: expected ids in [0, {vocab_size}), got {i}")
    return list(ids)


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


def number(value, name, *, minimum=None, maximum=None, above=None):
    """Check ``value`` is a finite real number (a Python or NumPy number, or a 0-d tensor; bool refused)
    with ``minimum <= value <= maximum`` and ``value > above``; return it as a float.

    NaN and infinity are refused: an ``epsilon=inf`` or a NaN noise level would otherwise run
    and return zeros or NaN without a word.
    """
    if isinstance(value, torch.Tensor) and value.dim() == 0 and value.dtype != torch.bool and not value.is_complex():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {_describe(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum) or (
            above is not None and value <= above):
        bounds = [f">= {minimum}" if minimum is not None else None, f"> {above}" if above is not None else None,
                  f"<= {maximum}" if maximum is not None else None]
        raise ValueError(f"{name}: expected a number {' and '.join(b for b in bounds if b)}, got {value}")
    return value


def module(m, name="model"):
    """Check ``m`` is a ``torch.nn.Module``; return it."""
    if not isinstance(m, torch.nn.Module):
        raise TypeError(f"{name}: expected a torch.nn.Module, got {_describe(m)}")
    return m


def forward_kwargs(fn, kwargs, where, options=()):
    """Check that every keyword in ``kwargs`` is a parameter of ``fn`` (a model's forward) after its input.

    Explanation methods pass keywords that are not their own ``options`` to the model; a
    mistyped option (``step=10`` for ``steps``) must fail here, naming both lists, instead of
    reaching the model or being ignored.
    """
    if not kwargs:
        return
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return  # a builtin without a signature: let it judge its own arguments
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return
    takes = [p.name for p in params[1:] if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = [k for k in kwargs if k not in takes]
    if unknown:
        owner = getattr(fn, "__self__", None)
        fname = f"{type(owner).__name__}.{fn.__name__}" if owner is not None else getattr(fn, "__name__", "forward")
        mine = f"its options are {sorted(options)}; " if options else ""
        raise TypeError(f"{where}: unknown option(s) {unknown}; {mine}other keywords go to {fname}, "
                        f"which takes {takes}")


def same_dtype(x, reference, name):
    """Check ``x`` has the dtype of ``reference`` (a module's parameter): no silent mixing of float32 and float64."""
    if x.dtype != reference.dtype:
        raise TypeError(f"{name}: expected dtype {reference.dtype} (the module's parameters), got {x.dtype}")
    return x


def features(x, d, dtype, name="x"):
    """Check a non-empty floating tensor ``(..., d)`` of the parameters' ``dtype``."""
    tensor(x, name, min_ndim=1, floating=True)
    if x.shape[-1] != d:
        raise ValueError(f"{name}: expected a last dimension of size {d}, got shape {tuple(x.shape)}")
    if x.numel() == 0:
        raise ValueError(f"{name}: expected a non-empty tensor, got shape {tuple(x.shape)}")
    if x.dtype != dtype:
        raise TypeError(f"{name}: expected dtype {dtype} (the parameters' dtype), got {x.dtype}")
    return x


def lengths(value, B, T, name="lengths"):
    """Check sequence lengths ``(B,)``: integers in ``[1, T]`` (no empty sequence); return them."""
    tensor(value, name, ndim=1, floating=False)
    same_size(B, value.shape[0], f"{name}: batch size")
    if value.numel() and (int(value.min()) < 1 or int(value.max()) > T):
        raise ValueError(f"{name}: expected values in [1, {T}] (no empty sequences: at least one real token each), "
                         f"got {value.tolist()}")
    return value


def padded_lengths(ids, pad_id=0, name="ids"):
    """The number of real tokens per row of ``ids (B, T)``, checking that padding comes only after them."""
    real = ids != pad_id  # (B, T)
    n = real.sum(dim=1)  # (B,)
    bad = (real != (torch.arange(ids.shape[1], device=ids.device) < n[:, None])).any(1) | (n == 0)
    if bool(bad.any()):
        rows = bad.nonzero()[:, 0].tolist()
        raise ValueError(f"{name}: expected at least one real token in each row and padding id {pad_id} only "
                         f"after the real tokens, got rows {rows[:10]} that break this (first: "
                         f"{ids[rows[0]].tolist()[:20]})")
    return n


def embedded(E, d_model, reference=None, row_lengths=None, name="E"):
    """Check token embeddings ``E (B, T, d_model)`` with ``B, T >= 1``, of ``reference``'s dtype, and
    optional ``row_lengths (B,)`` in ``[1, T]``."""
    tensor(E, name, ndim=3, floating=True)
    same_size(d_model, E.shape[2], f"{name}: embedding size (last dimension)")
    if E.shape[0] == 0 or E.shape[1] == 0:
        raise ValueError(f"{name}: expected at least one sequence and one token, got shape {tuple(E.shape)}")
    if reference is not None:
        same_dtype(E, reference, name)
    if row_lengths is not None:
        lengths(row_lengths, E.shape[0], E.shape[1])
    return E


def call(fn, args, kwargs, where):
    """Check that ``fn(*args, **kwargs)`` matches ``fn``'s signature (a model's forward) before running it."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return
    try:
        sig.bind(*args, **kwargs)
    except TypeError as e:
        owner = getattr(fn, "__self__", None)
        fname = f"{type(owner).__name__}.{fn.__name__}" if owner is not None else getattr(fn, "__name__", "forward")
        raise TypeError(f"{where}: expected arguments that fit {fname}{sig}, got {len(args)} positional and "
                        f"keywords {sorted(kwargs)} ({e})") from None


def flag(value, name):
    """Check ``value`` is a bool (a switch such as ``batch_first``); return it."""
    if not isinstance(value, (bool, np_bool)):
        raise TypeError(f"{name}: expected True or False, got {_describe(value)} {value!r:.40}")
    return bool(value)
