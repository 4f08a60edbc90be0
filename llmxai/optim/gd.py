"""Gradient descent on explicit gradients: ``theta <- theta - lr * grad L(theta)``.

Also one step of it written out number by number for the line ``f(x) = w x + b`` under
the squared error, the example the gradient-descent chapter works by hand.
"""

import math
from dataclasses import dataclass
from numbers import Real

import torch

from llmxai import validate


def _learning_rate(lr):
    if isinstance(lr, bool) or not isinstance(lr, Real):
        raise TypeError(f"lr: expected a real number, got {type(lr).__name__}")
    if not (math.isfinite(lr) and lr >= 0):
        raise ValueError(f"lr: expected a finite number >= 0, got {lr}")
    return float(lr)


def gradient_descent(grad_fn, theta0, lr, steps):
    """Run ``theta_{t+1} = theta_t - lr * grad_fn(theta_t)`` and return the trajectory,
    a tensor ``(steps + 1, *theta0.shape)`` whose row 0 is ``theta0``.

    ``grad_fn`` maps a parameter tensor to its gradient (same shape), computed by hand
    or by autograd; nothing here differentiates.
    """
    if not callable(grad_fn):
        raise TypeError(f"grad_fn: expected a function theta -> gradient, got {type(grad_fn).__name__}")
    validate.tensor(theta0, "theta0", floating=True)
    lr = _learning_rate(lr)
    validate.positive_int(steps, "steps", minimum=0)
    path = [theta0.detach().clone()]
    for t in range(steps):
        g = grad_fn(path[-1])
        if not isinstance(g, torch.Tensor) or g.shape != theta0.shape:
            got = tuple(g.shape) if isinstance(g, torch.Tensor) else type(g).__name__
            raise ValueError(f"grad_fn: expected a gradient of shape {tuple(theta0.shape)}, got {got} at step {t}")
        path.append(path[-1] - lr * g)
    return torch.stack(path)


@dataclass(frozen=True)
class LinearStep:
    """Every number of one gradient-descent step on ``L = (w x + b - y)^2``."""

    w: float
    b: float
    x: float
    y: float
    lr: float
    prediction: float  # w x + b
    error: float  # prediction - y
    loss: float  # error^2
    grad_w: float  # dL/dw = 2 error x
    grad_b: float  # dL/db = 2 error
    new_w: float  # w - lr dL/dw
    new_b: float  # b - lr dL/db
    new_prediction: float
    new_loss: float


def linear_regression_step(w, b, x, y, lr):
    """One step of gradient descent on the squared error of ``f(x) = w x + b`` at one point.

    ``L(w, b) = (w x + b - y)^2``, so ``dL/dw = 2 (w x + b - y) x`` and ``dL/db = 2 (w x + b - y)``.
    At ``w=2, b=0, x=1, y=2`` the line already passes through the point: the loss and both
    gradients are 0 and the step changes nothing. From ``w=1, b=0`` (same point, ``lr=0.1``)
    the loss is 1, both gradients are -2 and the step moves to ``w=1.2, b=0.2``.
    """
    values = {}
    for name, v in (("w", w), ("b", b), ("x", x), ("y", y)):
        if isinstance(v, bool) or not isinstance(v, Real):
            raise TypeError(f"{name}: expected a real number, got {type(v).__name__}")
        if not math.isfinite(v):
            raise ValueError(f"{name}: expected a finite number, got {v}")
        values[name] = float(v)
    w, b, x, y = values["w"], values["b"], values["x"], values["y"]
    lr = _learning_rate(lr)
    prediction = w * x + b
    error = prediction - y
    grad_w, grad_b = 2 * error * x, 2 * error
    new_w, new_b = w - lr * grad_w, b - lr * grad_b
    new_prediction = new_w * x + new_b
    return LinearStep(w, b, x, y, lr, prediction, error, error**2, grad_w, grad_b,
                      new_w, new_b, new_prediction, (new_prediction - y) ** 2)
