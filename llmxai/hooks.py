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


class HookPoint(nn.Module):
    """Identity module that marks a named intermediate activation."""

    def forward(self, x):
        return x


def hook_names(model):
    """Names of every :class:`HookPoint` in ``model``, in forward order of definition."""
    return [name for name, m in model.named_modules() if isinstance(m, HookPoint)]


def _resolve(model, names):
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
    points = _resolve(model, list(fns))
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
        return fn(output)

    return hook


def run_with_cache(model, *args, names=None, detach=True, **kwargs):
    """Run ``model(*args, **kwargs)`` and return ``(output, cache)``.

    ``cache`` maps each hook-point name (all of them, or those in ``names``) to the
    activation that passed through it. With ``detach=False`` the cached tensors stay
    in the autograd graph, so gradients with respect to them can be taken.
    """
    wanted = hook_names(model) if names is None else list(names)
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

    def patcher(name, value):
        def patch(a):
            if callable(value):
                return value(a)
            if not isinstance(value, torch.Tensor) or value.shape != a.shape:
                got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                raise ValueError(f"patch for {name!r}: expected shape {tuple(a.shape)}, got {got}")
            return value.to(dtype=a.dtype, device=a.device)

        return patch

    with hooks(model, {n: patcher(n, v) for n, v in patches.items()}):
        return model(*args, **kwargs)
