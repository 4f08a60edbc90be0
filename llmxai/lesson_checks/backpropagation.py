"""Lesson 3 (backpropagation): local derivatives, a linear layer's backward pass, a two-layer
network by hand, and gradient checking by central differences."""

import torch
import torch.nn.functional as F

from llmxai.device import generator
from llmxai.lesson_checks.common import _what, check_own_work, close, passed, run, tensor_of_shape
from llmxai.optim import finite_difference_grad

_AUTOGRAD = ("autograd", "grad", "backward", "jacobian", "vjp")


def check_sigmoid_backward(sigmoid_backward, seed=0):
    """Check ``sigmoid_backward(a, grad_a) -> grad_z`` for ``a = sigmoid(z)``: ``grad_a * a * (1 - a)``."""
    check_own_work(sigmoid_backward, forbidden=_AUTOGRAD, exercise="sigmoid_backward (by the formula)")
    g = generator(seed)
    z = 2 * torch.randn(4, 3, generator=g, dtype=torch.float64)
    a, grad_a = torch.sigmoid(z), torch.randn(4, 3, generator=g, dtype=torch.float64)
    got = run(sigmoid_backward, a.clone(), grad_a.clone())
    tensor_of_shape(got, a.shape, "grad_z has the shape of a")
    want = grad_a * a * (1 - a)
    if close(got, grad_a * torch.sigmoid(a) * (1 - torch.sigmoid(a))):
        raise AssertionError("you applied the sigmoid again: `a` is already sigmoid(z), so the local derivative "
                             "is a * (1 - a)")
    if close(got, a * (1 - a)):
        raise AssertionError("multiply by the incoming gradient grad_a: chain rule, dL/dz = dL/da * da/dz")
    if close(got, grad_a * (1 - a ** 2)):
        raise AssertionError("1 - a^2 is the derivative of tanh; the sigmoid's is a * (1 - a)")
    if close(got, grad_a * a) or close(got, grad_a * (1 - a)) or close(got, -want):
        raise AssertionError("the sigmoid's derivative is a * (1 - a): both factors, positive")
    if not close(got, want):
        raise AssertionError("values differ from grad_a * a * (1 - a)")
    return passed("sigmoid_backward")


def check_linear_backward(linear_backward, seed=0):
    """Check ``linear_backward(x, W, grad_Z) -> (grad_x, grad_W, grad_b)`` for ``Z = x @ W + b``."""
    check_own_work(linear_backward, forbidden=_AUTOGRAD, exercise="linear_backward (by the formulas)")
    g = generator(seed)
    B, d_in, d_out = 5, 4, 3
    x = torch.randn(B, d_in, generator=g, dtype=torch.float64)
    W = torch.randn(d_in, d_out, generator=g, dtype=torch.float64)
    grad_Z = torch.randn(B, d_out, generator=g, dtype=torch.float64)
    got = run(linear_backward, x.clone(), W.clone(), grad_Z.clone())
    if not (isinstance(got, tuple) and len(got) == 3):
        raise AssertionError(f"return three tensors (grad_x, grad_W, grad_b), got {_what(got)}")
    gx, gW, gb = got
    if isinstance(gW, torch.Tensor) and tuple(gW.shape) == (d_out, d_in):
        raise AssertionError(f"grad_W has shape {tuple(gW.shape)}, the transpose of W's {(d_in, d_out)}: "
                             "it is x^T @ grad_Z, not grad_Z^T @ x")
    tensor_of_shape(gW, (d_in, d_out), "grad_W has W's shape (d_in, d_out)")
    if isinstance(gb, torch.Tensor) and tuple(gb.shape) == (B, d_out):
        raise AssertionError("grad_b still has one row per example: b is shared by the whole batch, so its "
                             "gradient is the SUM of grad_Z over the batch (dim 0)")
    tensor_of_shape(gb, (d_out,), "grad_b has b's shape (d_out,)")
    tensor_of_shape(gx, (B, d_in), "grad_x has x's shape (B, d_in): grad_Z @ W^T")
    if close(gW, x.T @ grad_Z / B) or close(gb, grad_Z.mean(0)):
        raise AssertionError("the examples' contributions add up: sum over the batch, do not average "
                             "(any 1/B is already inside grad_Z when the loss is a mean)")
    if not close(gW, x.T @ grad_Z):
        raise AssertionError("grad_W differs from x^T @ grad_Z")
    if not close(gb, grad_Z.sum(0)):
        raise AssertionError("grad_b differs from grad_Z summed over the batch")
    if not close(gx, grad_Z @ W.T):
        raise AssertionError("grad_x differs from grad_Z @ W^T")
    return passed("linear_backward")


def _mlp(seed):
    g = generator(seed)
    B, d_in, H, C = 6, 4, 5, 3
    x = torch.randn(B, d_in, generator=g, dtype=torch.float64)
    y = torch.randint(0, C, (B,), generator=g)
    params = {"W1": torch.randn(d_in, H, generator=g, dtype=torch.float64), "b1": 0.1 * torch.randn(H, generator=g, dtype=torch.float64),
              "W2": torch.randn(H, C, generator=g, dtype=torch.float64), "b2": 0.1 * torch.randn(C, generator=g, dtype=torch.float64)}
    return x, y, params


def _mlp_grads(x, y, p, act=torch.tanh, slope=None, mean=True, skip_act=False, pre_activation=False):
    """The hand-written backward pass, with switches that reproduce the common mistakes."""
    B = x.shape[0]
    Z1 = x @ p["W1"] + p["b1"]
    A1 = act(Z1)
    Z2 = A1 @ p["W2"] + p["b2"]
    P = torch.softmax(Z2, -1)
    d2 = (P - F.one_hot(y, Z2.shape[1]).double()) / (B if mean else 1)
    dA1 = d2 @ p["W2"].T
    d1 = dA1 if skip_act else dA1 * (slope(A1, Z1) if slope else 1 - A1 ** 2)
    return {"W1": x.T @ d1, "b1": d1.sum(0), "W2": (Z1 if pre_activation else A1).T @ d2, "b2": d2.sum(0)}


def check_mlp_backward(mlp_backward, seed=0):
    """Check ``mlp_backward(x, y, params) -> grads`` for ``cross_entropy(tanh(x W1 + b1) W2 + b2, y)`` (batch mean)."""
    check_own_work(mlp_backward, forbidden=_AUTOGRAD, exercise="mlp_backward (by hand)")
    x, y, p = _mlp(seed)
    leaves = {k: v.clone().requires_grad_(True) for k, v in p.items()}
    loss = F.cross_entropy(torch.tanh(x @ leaves["W1"] + leaves["b1"]) @ leaves["W2"] + leaves["b2"], y)
    want = dict(zip(leaves, torch.autograd.grad(loss, list(leaves.values()))))
    got = run(mlp_backward, x.clone(), y.clone(), {k: v.clone() for k, v in p.items()})
    if not isinstance(got, dict) or set(got) != set(want):
        raise AssertionError(f"return a dict with the keys W1, b1, W2, b2, got {_what(got) if not isinstance(got, dict) else sorted(got)}")
    for k in want:
        tensor_of_shape(got[k], want[k].shape, f"grads[{k!r}] has the shape of {k}")
    mistakes = [
        (dict(mean=False), "divide by B: the loss is the mean over the batch, so the output delta is (p - y) / B"),
        (dict(slope=lambda A, Z: A * (1 - A)), "A1 * (1 - A1) is the sigmoid's derivative; tanh's is 1 - A1^2"),
        (dict(slope=lambda A, Z: 1 - Z ** 2), "tanh'(Z1) = 1 - tanh(Z1)^2 = 1 - A1^2: square the activation A1, "
                                              "not the pre-activation Z1"),
        (dict(skip_act=True), "you skipped the activation on the way back: multiply dA1 by tanh'(Z1) = 1 - A1^2 "
                              "before going on to W1 and b1"),
        (dict(pre_activation=True), "grad_W2 = A1^T @ delta2 uses the hidden activations A1 = tanh(Z1), not Z1"),
    ]
    for switches, hint in mistakes:
        wrong = _mlp_grads(x, y, p, **switches)
        if all(close(got[k], wrong[k]) for k in want) and not all(close(got[k], want[k]) for k in want):
            raise AssertionError(hint)
    if all(close(got[k], want[k]) for k in ("W2", "b2")):
        bad = [k for k in ("W1", "b1") if not close(got[k], want[k])]
        if bad:
            raise AssertionError(f"the output layer is right but {', '.join(bad)} differ: check the step back through "
                                 "W2 (delta2 @ W2^T) and tanh (times 1 - A1^2)")
    if not close(got["W2"], want["W2"]) and close(got["b2"], want["b2"]):
        raise AssertionError("grad_W2 differs: it is A1^T @ delta2 (the hidden activations, after tanh)")
    bad = [k for k in want if not close(got[k], want[k])]
    if bad:
        raise AssertionError(f"{', '.join(bad)} differ from the gradient of the mean cross-entropy: start from "
                             "delta2 = (softmax(Z2) - one_hot(y)) / B")
    return passed("mlp_backward")


def check_central_difference(central_difference, seed=0):
    """Check ``central_difference(f, x, eps) -> grad``: ``(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)`` per entry."""
    check_own_work(central_difference, forbidden=_AUTOGRAD + ("finite_difference_grad",),
                   library=(finite_difference_grad,), exercise="central_difference")
    g = generator(seed)
    x = torch.randn(2, 3, generator=g, dtype=torch.float64)
    a = torch.randn(2, 3, generator=g, dtype=torch.float64)

    def f(t):  # curved enough that a one-sided difference is visibly worse
        return (torch.exp(1.5 * t) * a).sum() + (t ** 2).sum() ** 2

    exact = 1.5 * torch.exp(1.5 * x) * a + 4 * (x ** 2).sum() * x
    eps = 1e-3
    before = x.clone()
    got = run(central_difference, f, x, eps)
    if not torch.equal(x, before):
        raise AssertionError("x is changed after your function: put each entry back after perturbing it "
                             "(or perturb a copy)")
    tensor_of_shape(got, x.shape, "the gradient has x's shape")
    got = got.detach().double()
    forward = torch.zeros_like(x)
    directional = ((f(x + eps) - f(x - eps)) / (2 * eps)).item()
    for i in range(x.numel()):
        e = torch.zeros(x.numel(), dtype=x.dtype)
        e[i] = eps
        e = e.view_as(x)
        forward.view(-1)[i] = (f(x + e) - f(x)) / eps
    if close(got, forward, 1e-9):
        raise AssertionError("a one-sided difference (f(x + eps) - f(x)) / eps has an error of order eps; "
                             "the central one, (f(x + eps) - f(x - eps)) / (2 eps), of order eps^2")
    if close(got, 2 * exact, 1e-4):
        raise AssertionError("twice the gradient: divide by 2 * eps, the distance between x - eps and x + eps")
    if close(got, torch.full_like(x, directional), 1e-9):
        raise AssertionError("every entry is the same: perturb ONE entry at a time (x + eps * e_i), not all at once")
    if not close(got, exact, 1e-4):
        raise AssertionError("the estimate is far from the gradient: for each entry i, "
                             "(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)")
    return passed("central_difference")
