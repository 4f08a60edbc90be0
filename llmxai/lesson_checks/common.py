"""What every lesson's graders share: calling the learner's code safely, comparing, and
checking that an exercise was built rather than imported."""

import dis
import inspect
import warnings

import torch

from llmxai.checks import NotYetImplemented, _call, _close, _passed, _what  # noqa: F401 (shared helpers)


def _code_objects(code):
    yield code
    for const in code.co_consts:
        if inspect.iscode(const):
            yield from _code_objects(const)


def _names_used(fn):
    """``(attribute names, global names)`` that ``fn``'s code (nested functions included) looks up."""
    code = getattr(fn, "__code__", None)
    attributes, globals_ = set(), set()
    if code is None:
        return attributes, globals_
    for c in _code_objects(code):
        for ins in dis.get_instructions(c):
            if ins.opname in ("LOAD_ATTR", "LOAD_METHOD"):
                attributes.add(str(ins.argval))
            elif ins.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
                globals_.add(str(ins.argval))
    return attributes, globals_


def _filled(cell):
    try:
        cell.cell_contents
    except ValueError:  # a closure variable not assigned yet
        return False
    return True


def check_own_work(fn, forbidden=(), library=(), exercise="this exercise"):
    """Fail with a hint if ``fn`` is, or calls, a ready-made version of what the exercise builds.

    ``forbidden``: attribute names that must not appear in ``fn``'s code (``torch.softmax``,
    ``x.softmax`` and ``F.softmax`` all look up the attribute ``softmax``); ``library``: objects
    that ``fn`` must neither be nor reach through a global name (``from torch import softmax``).
    A global name that holds the learner's own function is fine.
    """
    if not callable(fn):
        raise AssertionError(f"expected your function, got {_what(fn)}")
    for obj in library:
        if fn is obj:
            raise AssertionError(f"{exercise}: you handed in the library's {getattr(obj, '__name__', obj)!s}; "
                                 "write your own function with tensor operations")
    attributes, globals_ = _names_used(fn)
    used = sorted(attributes & set(forbidden))
    if used:
        raise AssertionError(f"{exercise}: your function calls a ready-made `{used[0]}`; build it yourself "
                             "from the operations the exercise lists")
    scope = getattr(fn, "__globals__", {})
    reached = [(name, scope.get(name)) for name in sorted(globals_)]
    code = getattr(fn, "__code__", None)
    if code is not None and getattr(fn, "__closure__", None):
        reached += [(name, cell.cell_contents) for name, cell in zip(code.co_freevars, fn.__closure__)
                    if _filled(cell)]
    for name, value in reached:
        if value is not None and any(value is obj for obj in library):
            raise AssertionError(f"{exercise}: your function calls the library's `{name}`; build it yourself "
                                 "from the operations the exercise lists")
    return True


def tensor_of_shape(got, shape, what):
    """Fail with a hint unless ``got`` is a real tensor of ``shape``."""
    if not isinstance(got, torch.Tensor) or tuple(got.shape) != tuple(shape) or got.is_complex():
        raise AssertionError(f"{what}: expected a tensor of shape {tuple(shape)}, got {_what(got)}")
    return got


def close(a, b, tol=1e-6):
    """Whether ``a`` is a tensor of ``b``'s shape whose values match ``b``'s (float64 comparison)."""
    return _close(a, b, tol)


def finite(t):
    """Whether tensor ``t`` has no NaN or inf (no warning either way)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bool(torch.isfinite(t.detach()).all())


def run(fn, *args):
    """The learner's ``fn(*args)``; what it raises becomes a hint (``AssertionError``)."""
    return _call(fn, *args)


def passed(name):
    """Print one line and return True."""
    return _passed(name)
