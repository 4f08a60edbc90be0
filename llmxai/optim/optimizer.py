"""The part every optimiser shares: a list of parameters, ``zero_grad`` and ``step``."""

import math
from numbers import Real

import torch


class Optimizer:
    """Base class with the :class:`torch.optim.Optimizer` interface (one parameter group).

    A subclass implements ``update(p, grad, state)``, which changes ``p`` in place; ``state``
    is a per-parameter dict for running averages and step counts.
    """

    def __init__(self, params, lr):
        if isinstance(params, torch.Tensor):
            raise TypeError("params: expected an iterable of tensors (e.g. model.parameters()), got a single tensor")
        try:
            params = list(params)
        except TypeError:
            raise TypeError(f"params: expected an iterable of tensors, got {type(params).__name__}") from None
        if not params:
            raise ValueError("params: expected at least one parameter, got an empty list")
        for i, p in enumerate(params):
            if not isinstance(p, torch.Tensor) or not p.is_floating_point():
                got = f"dtype {p.dtype}" if isinstance(p, torch.Tensor) else type(p).__name__
                raise TypeError(f"params[{i}]: expected a floating-point tensor, got {got}")
            if not p.requires_grad:
                raise ValueError(f"params[{i}]: expected a tensor with requires_grad=True")
        self.params = params
        self.lr = number(lr, "lr")
        self.state = [{} for _ in params]

    def zero_grad(self, set_to_none=True):
        """Forget the gradients of the last backward pass (PyTorch's default sets them to ``None``)."""
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    @torch.no_grad()
    def step(self, closure=None):
        """Update every parameter that has a gradient; ``closure`` (optional) recomputes the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for p, state in zip(self.params, self.state):
            if p.grad is not None:
                self.update(p, p.grad, state)
        return loss

    def update(self, p, grad, state):
        raise NotImplementedError


def number(value, name, low=0.0, high=math.inf, high_open=False):
    """Check a hyperparameter is a real number in ``[low, high]`` (``[low, high)`` if ``high_open``)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__}")
    value = float(value)
    above = value >= high if high_open else value > high
    if math.isnan(value) or value < low or above or math.isinf(value):
        interval = f"[{low}, {high})" if high_open else f"[{low}, {high}]"
        raise ValueError(f"{name}: expected a finite number in {interval}, got {value}")
    return value
