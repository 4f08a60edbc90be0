"""Graders for the lessons: a learner's function goes in, a pass or a hint comes out.

Each ``check_*`` runs the learner's function on a few cases against llmxai's reference.
On success it prints a short confirmation and returns True; on failure it raises
``AssertionError`` whose message is a hint about the likely mistake (so an autograder
records the failure and the learner reads what to look at). A learner's function that
raises, or warns, is answered the same way: the grader itself never lets a traceback
through, never writes to stderr and never warns.
"""

import contextlib
import io
import math
import warnings

import torch

from llmxai.nn.attention import scaled_dot_product_attention
from llmxai.device import generator


class NotYetImplemented(AssertionError):
    """The learner's function still raises NotImplementedError."""


def _call(fn, *args):
    if not callable(fn):
        raise TypeError(f"expected your function, got {type(fn).__name__} {fn!r:.40}")
    # What the learner's code prints to stderr or warns is not the grader's output.
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            return fn(*args)
        except NotImplementedError:
            raise NotYetImplemented("not implemented yet: replace `raise NotImplementedError` with your code") from None
        except Exception as e:  # the learner's bug, reported as a hint rather than a traceback
            where = ", ".join(f"{tuple(a.shape)}" if isinstance(a, torch.Tensor) else type(a).__name__ for a in args)
            raise AssertionError(f"your function raised {type(e).__name__} when called with inputs of shape {where}: "
                                 f"{str(e)[:300]}. Check the shapes of each step (print x.shape)") from None


def _close(a, b, tol=1e-6):
    if not isinstance(a, torch.Tensor) or a.shape != b.shape or a.is_complex():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bool(torch.allclose(a.detach().double(), b.double(), atol=tol, rtol=tol, equal_nan=False))


def _what(value):
    return f"a tensor of shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else type(value).__name__


def _passed(name):
    print(f"{name}: all checks passed")
    return True


def check_softmax(softmax):
    """Check ``softmax(x)`` over the last axis: values, stability, axis."""
    g = generator(0)
    x = torch.randn(3, 5, generator=g, dtype=torch.float64)
    want = torch.softmax(x, dim=-1)
    got = _call(softmax, x.clone())
    if not isinstance(got, torch.Tensor) or got.shape != x.shape:
        raise AssertionError(f"expected a tensor of shape {tuple(x.shape)}, got {_what(got)}")
    if _close(got, torch.softmax(x, dim=0)) and not _close(got, want):
        raise AssertionError("your rows do not sum to 1 but your columns do: softmax runs over the LAST axis (dim=-1)")
    if not _close(got, want):
        raise AssertionError("values differ from softmax: exp(x) divided by the sum of exp(x) along the last axis")
    # Large scores, and rows far apart: a single global shift cannot rescue every row.
    big = x * 1000 + torch.tensor([0.0, 1e4, -1e4], dtype=x.dtype)[:, None]
    got_big = _call(softmax, big.clone())
    if not isinstance(got_big, torch.Tensor) or got_big.shape != big.shape or got_big.is_complex():
        raise AssertionError(f"for large inputs, expected a real tensor of shape {tuple(big.shape)}, "
                             f"got {_what(got_big)}")
    if not bool(torch.isfinite(got_big.detach()).all()):
        raise AssertionError("NaN or inf for large inputs: subtract each row's maximum before exp (it does not change the result)")
    if not _close(got_big, torch.softmax(big, dim=-1)):
        raise AssertionError("wrong values for large inputs: subtract the row maximum, not a global constant")
    return _passed("softmax")


def check_attention(attention):
    """Check ``attention(q, k, v) -> (output, weights)`` against llmxai's reference."""
    g = generator(1)
    q = torch.randn(2, 4, 8, generator=g, dtype=torch.float64)
    k = torch.randn(2, 6, 8, generator=g, dtype=torch.float64)
    v = torch.randn(2, 6, 3, generator=g, dtype=torch.float64)
    result = _call(attention, q, k, v)
    if not (isinstance(result, tuple) and len(result) == 2):
        raise AssertionError("return a pair (output, weights)")
    out, w = result
    want_out, want_w = scaled_dot_product_attention(q, k, v)
    if not isinstance(w, torch.Tensor) or w.shape != want_w.shape:
        raise AssertionError(f"weights should have shape (B, Tq, Tk) = {tuple(want_w.shape)}: one row per query, one column per key")
    scores = q @ k.transpose(-2, -1)
    if _close(w, torch.softmax(scores, dim=-1)):
        raise AssertionError("is the scaling missing? divide the scores by sqrt(d_k) before the softmax")
    if _close(w, torch.softmax(scores / q.shape[-1], dim=-1)):
        raise AssertionError("you divided by d_k; the scaling is 1/sqrt(d_k), which keeps the scores' variance near 1")
    if _close(w, torch.softmax(scores / math.sqrt(q.shape[-1]), dim=-2)):
        raise AssertionError("softmax over the wrong axis: each query's weights over the KEYS must sum to 1 (dim=-1)")
    if not _close(w, want_w):
        raise AssertionError("weights differ from softmax(Q K^T / sqrt(d_k)) over the keys")
    if not isinstance(out, torch.Tensor) or out.shape != want_out.shape:
        raise AssertionError(f"output should have shape (B, Tq, d_v) = {tuple(want_out.shape)}: weights @ V")
    if not _close(out, want_out):
        raise AssertionError("output differs: multiply the weights by V (not by K or Q)")
    return _passed("attention")


def __getattr__(name):
    """``checks.check_x`` also finds the graders of lessons 2 onwards, in ``llmxai.lesson_checks``."""
    import importlib

    from llmxai.lesson_checks import LESSONS

    if name.startswith("check_"):
        for lesson in LESSONS:
            module = importlib.import_module(f"llmxai.lesson_checks.{lesson}")
            if hasattr(module, name):
                return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    import importlib

    from llmxai.lesson_checks import LESSONS

    names = set(globals())
    for lesson in LESSONS:
        names |= {n for n in dir(importlib.import_module(f"llmxai.lesson_checks.{lesson}")) if n.startswith("check_")}
    return sorted(names)
