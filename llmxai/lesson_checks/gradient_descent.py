"""Lesson 2 (gradient descent): cross-entropy, its gradient p - y, momentum, the learning-rate limit."""

import math

import torch
import torch.nn.functional as F

from llmxai.device import generator
from llmxai.lesson_checks.common import _what, check_own_work, close, finite, passed, run, tensor_of_shape
from llmxai.optim import cross_entropy as library_cross_entropy
from llmxai.optim import gradient_descent as library_gradient_descent


def _logits(seed, B=5, C=4):
    g = generator(seed)
    return torch.randn(B, C, generator=g, dtype=torch.float64), torch.randint(0, C, (B,), generator=g)


def check_cross_entropy(cross_entropy, seed=0):
    """Check ``cross_entropy(logits (B, C), targets (B,)) -> ()``: the batch mean of -log softmax[target]."""
    check_own_work(cross_entropy, forbidden=("cross_entropy", "nll_loss", "log_softmax", "softmax", "logsumexp"),
                   library=(library_cross_entropy, F.cross_entropy), exercise="cross_entropy")
    z, y = _logits(seed)
    B = z.shape[0]
    logp = z - z.logsumexp(-1, keepdim=True)  # (B, C)
    per_row = -logp[torch.arange(B), y]  # (B,)
    got = run(cross_entropy, z.clone(), y.clone())
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (B,) and close(got, per_row):
        raise AssertionError("you returned one loss per example: the loss is their MEAN over the batch, one number")
    if isinstance(got, torch.Tensor) and got.dim() == 2:
        raise AssertionError(f"you returned a matrix {tuple(got.shape)}: did you index log_probs[:, targets]? "
                             "That takes every target for every row; take one entry per row, "
                             "log_probs[torch.arange(B), targets]")
    if not isinstance(got, (torch.Tensor, float)) or (isinstance(got, torch.Tensor) and got.numel() != 1):
        raise AssertionError(f"expected one number (a 0-d tensor), got {_what(got)}")
    got = torch.as_tensor(got, dtype=torch.float64).reshape(())
    want = per_row.mean()
    if close(got, -want):
        raise AssertionError("the sign is flipped: the loss is MINUS the log-probability of the target, so it is >= 0")
    if close(got, per_row.sum()):
        raise AssertionError("you summed over the batch: cross-entropy here is the MEAN over the B examples")
    if close(got, -(z - z.logsumexp(0, keepdim=True))[torch.arange(B), y].mean()):
        raise AssertionError("log-softmax over the wrong axis: normalise each row over the classes (dim=-1)")
    if close(got, -logp[:, y].mean()):
        raise AssertionError("you indexed log_probs[:, targets], which takes every target for every row: take one "
                             "entry per row, log_probs[torch.arange(B), targets]")
    if close(got, -z[torch.arange(B), y].mean()) or close(got, (z.exp().sum(-1).log()).mean()):
        raise AssertionError("the loss is logsumexp(z) - z[target] per row: both terms are needed")
    if not close(got, want):
        raise AssertionError("values differ from the mean over rows of logsumexp(z_b) - z_b[y_b]")
    # exp(1000) overflows even in float64; rows far apart: one global shift cannot rescue every row
    big = z * 1000 + 1e4 * (torch.arange(B, dtype=z.dtype) - B // 2)[:, None]
    got_big = run(cross_entropy, big.clone(), y.clone())
    got_big = torch.as_tensor(got_big, dtype=torch.float64).reshape(-1)
    if got_big.numel() != 1 or not finite(got_big):
        raise AssertionError("NaN or inf for large logits: subtract each row's maximum before exp, "
                             "log sum exp(z) = m + log sum exp(z - m)")
    want_big = (big.logsumexp(-1) - big[torch.arange(B), y]).mean()
    if not close(got_big[0], want_big):
        raise AssertionError("wrong for large logits: subtract each ROW's maximum (a different m per row), and add it back")
    return passed("cross_entropy")


def check_cross_entropy_grad(cross_entropy_grad, seed=0):
    """Check ``cross_entropy_grad(logits (B, C), targets (B,)) -> (B, C)``, the gradient ``(p - y) / B``."""
    check_own_work(cross_entropy_grad, forbidden=("grad", "backward", "cross_entropy", "jacobian"),
                   exercise="cross_entropy_grad (by the formula, not autograd)")
    z, y = _logits(seed)
    B, C = z.shape
    p = torch.softmax(z, -1)
    onehot = F.one_hot(y, C).double()
    got = run(cross_entropy_grad, z.clone(), y.clone())
    tensor_of_shape(got, (B, C), "the gradient has the logits' shape (B, C)")
    want = (p - onehot) / B
    if close(got, p - onehot):
        raise AssertionError("divide by B: the loss is a mean over the batch, so each row's gradient is (p - y) / B")
    if close(got, -want) or close(got, onehot - p):
        raise AssertionError("the sign is flipped: the gradient is p - y (probabilities minus the one-hot target)")
    if close(got, p / B) or close(got, p):
        raise AssertionError("subtract the one-hot target: dL/dz = (p - y) / B, where y is 1 at the target class")
    if close(got, (torch.softmax(z, 0) - onehot) / B):
        raise AssertionError("softmax over the wrong axis: p is normalised over the classes of each row (dim=-1)")
    if close(got, (torch.sigmoid(z) - onehot) / B):
        raise AssertionError("p is the softmax over the classes, not an element-wise sigmoid")
    if not close(got, want):
        raise AssertionError("values differ from (softmax(z) - one_hot(y)) / B")
    return passed("cross_entropy_grad")


def _valley(seed):
    g = generator(seed)
    angle = 0.3 + torch.rand((), generator=g, dtype=torch.float64).item()
    R = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]], dtype=torch.float64)
    return R @ torch.diag(torch.tensor([1.0, 10.0], dtype=torch.float64)) @ R.T  # (2, 2), eigenvalues 1 and 10


def _heavy_ball(grad, theta0, lr, mu, steps, dampening=0.0, sign=-1.0):
    theta, v, path = theta0.clone(), torch.zeros_like(theta0), [theta0.clone()]
    for _ in range(steps):
        v = mu * v + (1 - dampening) * grad(theta)
        theta = theta + sign * lr * v
        path.append(theta)
    return torch.stack(path)


def check_momentum_path(momentum_path, seed=0):
    """Check ``momentum_path(grad, theta0, lr, mu, steps) -> (steps + 1, *theta0.shape)``, heavy-ball momentum.

    ``v_t = mu v_{t-1} + grad(theta_{t-1})``, ``theta_t = theta_{t-1} - lr v_t``, ``v_0 = 0``; row 0 is ``theta0``.
    """
    check_own_work(momentum_path, forbidden=("SGD", "gradient_descent"), library=(library_gradient_descent,),
                   exercise="momentum_path")
    H = _valley(seed)
    theta0 = torch.tensor([-4.0, 2.0], dtype=torch.float64)
    lr, mu, steps = 0.05, 0.6, 12
    start = theta0.clone()
    got = run(momentum_path, lambda t: H @ t, theta0, lr, mu, steps)
    if not torch.equal(theta0, start):
        raise AssertionError("you changed theta0 in place: start from a copy, theta = theta0.clone()")
    want = _heavy_ball(lambda t: H @ t, start, lr, mu, steps)
    if isinstance(got, (list, tuple)) and all(isinstance(t, torch.Tensor) for t in got):
        raise AssertionError("return one tensor: torch.stack(path)")
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (steps, 2):
        raise AssertionError(f"{steps} rows: include the starting point, steps + 1 = {steps + 1} rows in all")
    tensor_of_shape(got, (steps + 1, 2), "the path (steps + 1, 2): theta0 and then one row per step")
    got = got.detach()
    if (got[1:] == got[-1]).all() and not close(got, want):
        raise AssertionError("every row is the same tensor: updating theta in place changes the rows you already "
                             "stored; store a copy (theta.clone()) or write theta = theta - ...")
    if close(got, _heavy_ball(lambda t: H @ t, start, lr, mu, steps, sign=1.0)):
        raise AssertionError("you stepped up the slope: theta_t = theta_{t-1} - lr * v_t (minus)")
    if close(got, _heavy_ball(lambda t: H @ t, start, lr, 0.0, steps)):
        raise AssertionError("no momentum: keep a velocity v_t = mu * v_{t-1} + g_t and step along it")
    if close(got, _heavy_ball(lambda t: H @ t, start, lr, mu, steps, dampening=mu)):
        raise AssertionError("no (1 - mu) factor: heavy-ball momentum is v_t = mu * v_{t-1} + g_t")
    lagged = [start.clone()]
    theta, v = start.clone(), torch.zeros(2, dtype=torch.float64)
    for _ in range(steps):  # the step taken before the velocity is updated
        theta = theta - lr * v
        v = mu * v + H @ theta
        lagged.append(theta)
    if close(got, torch.stack(lagged)):
        raise AssertionError("update the velocity first, then step: the first step is -lr * g_1, not 0")
    if not close(got, want):
        raise AssertionError("the path differs from v_t = mu v_{t-1} + grad(theta_{t-1}), theta_t = theta_{t-1} - lr v_t")
    return passed("momentum_path")


def check_lr_limit(lr_limit, seed=0):
    """Check ``lr_limit(H) -> float``: the largest learning rate for which gradient descent on
    ``L = theta^T H theta / 2`` converges, ``2 / lambda_max(H)``."""
    g = generator(seed)
    Q, _ = torch.linalg.qr(torch.randn(3, 3, generator=g, dtype=torch.float64))
    eig = torch.tensor([0.5, 2.0, 8.0], dtype=torch.float64)
    H = Q @ torch.diag(eig) @ Q.T  # (3, 3): rotated, so its diagonal is not its eigenvalues
    H = (H + H.T) / 2
    got = run(lr_limit, H.clone())
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        raise AssertionError(f"expected one number, got {_what(got)}")

    def near(x):
        return math.isclose(got, x, rel_tol=1e-6)

    if near(1 / eig.max().item()):
        raise AssertionError("1 / lambda_max is where the stiffest direction starts to oscillate; it still converges "
                             "up to 2 / lambda_max, where (1 - lr * lambda) reaches -1")
    if near(2 / eig.min().item()) or near(1 / eig.min().item()):
        raise AssertionError("the limit is set by the LARGEST curvature: above 2 / lambda_max that direction diverges")
    if near(2 / H.diagonal().max().item()) or near(2 / H.max().item()):
        raise AssertionError("the diagonal of H is not its curvature when the valley is rotated: use the eigenvalues "
                             "(torch.linalg.eigvalsh)")
    if near(2 / H.trace().item()) or near(2 / torch.linalg.matrix_norm(H).item()):
        raise AssertionError("use the largest eigenvalue of H, not its trace or Frobenius norm")
    if not near(2 / eig.max().item()):
        raise AssertionError("expected 2 / lambda_max(H): one step multiplies the component along eigenvector i "
                             "by (1 - lr * lambda_i)")
    return passed("lr_limit")
