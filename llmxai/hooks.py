"""Named intermediates: read and replace any activation by its name.

A :class:`HookPoint` is an identity module placed wherever a model computes
something worth looking at (attention weights, a residual stream, an LSTM gate).
Because it is a module, it has a dotted name in ``model.named_modules()``, and a
forward hook on it can record or replace what flows through. The helpers here
install such hooks and always remove them, even when the forward pass raises.
(The idea follows TransformerLens's hook points; the code is our own.)
"""

from contextlib import contextmanager

import torch
from torch import nn

from llmxai import validate


class HookPoint(nn.Module):
    """Identity module that marks a named intermediate activation."""

    def forward(self, x):
        return x


def hook_names(model):
    """Names of every :class:`HookPoint` in ``model``, in forward order of definition."""
    validate.module(model)
    return [name for name, m in model.named_modules() if isinstance(m, HookPoint)]


def _names(names, what="names"):
    """A list of hook-point names from one name or an iterable of names."""
    if isinstance(names, str):
        return [names]
    listed = list(names) if hasattr(names, "__iter__") else None
    if listed is None or not all(isinstance(n, str) for n in listed):
        raise TypeError(f"{what}: expected a hook-point name or a list of names, got {names!r:.80}")
    return listed


def _resolve(model, names):
    validate.module(model)
    points = dict((n, m) for n, m in model.named_modules() if isinstance(m, HookPoint))
    missing = [n for n in names if n not in points]
    if missing:
        raise ValueError(f"unknown hook point(s) {missing}; valid names are {sorted(points)}")
    return points


@contextmanager
def hooks(model, fns):
    """Context manager that attaches ``{name: fn(activation) -> activation or None}``.

    A function that returns a tensor replaces the activation; one that returns None
    only observes it. Hooks are removed on exit, whatever happens inside.
    """
    if not isinstance(fns, dict):
        raise TypeError(f"fns: expected a dict {{hook name: function}}, got {type(fns).__name__}")
    points = _resolve(model, _names(list(fns), "fns"))
    not_callable = [n for n, fn in fns.items() if not callable(fn)]
    if not_callable:
        raise TypeError(f"fns: expected a function for every hook point, got none for {not_callable}")
    handles = []
    try:
        for name, fn in fns.items():
            handles.append(points[name].register_forward_hook(_wrap(fn)))
        yield model
    finally:
        for h in handles:
            h.remove()


def _wrap(fn):
    def hook(module, inputs, output):
        new = fn(output)
        if new is not None and not isinstance(new, torch.Tensor):
            raise TypeError(f"hook function {getattr(fn, '__name__', fn)!r}: expected it to return a tensor "
                            f"(the replacement) or None, got {type(new).__name__}")
        return new

    return hook


def run_with_cache(model, *args, names=None, detach=True, **kwargs):
    """Run ``model(*args, **kwargs)`` and return ``(output, cache)``.

    ``cache`` maps each hook-point name (all of them, or those in ``names``) to the
    activation that passed through it. With ``detach=False`` the cached tensors stay
    in the autograd graph, so gradients with respect to them can be taken.
    """
    wanted = hook_names(model) if names is None else _names(names)
    if not isinstance(detach, bool):
        raise TypeError(f"detach: expected a bool, got {type(detach).__name__}")
    _resolve(model, wanted)
    validate.call(model.forward, args, kwargs, "run_with_cache")
    cache = {}

    def recorder(name):
        def record(a):
            cache[name] = a.detach() if detach else a

        return record

    with hooks(model, {n: recorder(n) for n in wanted}):
        out = model(*args, **kwargs)
    return out, cache


def run_with_patches(model, *args, patches, **kwargs):
    """Run ``model`` with activations replaced: ``patches`` maps name to a tensor or a function.

    A tensor must have the activation's shape; a function receives the activation and
    returns the replacement.
    """
    if not isinstance(patches, dict):
        raise TypeError(f"patches: expected a dict {{hook name: tensor or function}}, got {type(patches).__name__}")
    _resolve(model, _names(list(patches), "patches"))
    validate.call(model.forward, args, kwargs, "run_with_patches")

    def patcher(name, value):
        def patch(a):
            if callable(value):
                value_a = value(a)
                if value_a is not None and (not isinstance(value_a, torch.Tensor) or value_a.shape != a.shape):
                    got = tuple(value_a.shape) if isinstance(value_a, torch.Tensor) else type(value_a).__name__
                    raise ValueError(f"patch for {name!r}: expected the function to return a tensor of shape "
                                     f"{tuple(a.shape)}, got {got}")
                return value_a
            if not isinstance(value, torch.Tensor) or value.shape != a.shape:
                got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                raise ValueError(f"patch for {name!r}: expected shape {tuple(a.shape)}, got {got}")
            return value.to(dtype=a.dtype, device=a.device)

        return patch

    with hooks(model, {n: patcher(n, v) for n, v in patches.items()}):
        return model(*args, **kwargs)
