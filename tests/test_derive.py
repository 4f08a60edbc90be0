import random

import pytest
import sympy as sp
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from llmxai.derive import (
    elbo_monte_carlo, gaussian_kl, linear_gaussian_elbo, linear_regression_step_symbolic,
    mse_grad, sigmoid_derivative, softmax_cross_entropy_grad,
)
from llmxai.optim import linear_regression_step

f64 = torch.float64


@pytest.fixture(scope="module")
def elbo():
    return linear_gaussian_elbo()


@pytest.mark.parametrize("n", [2, 3])
def test_softmax_cross_entropy_gradient_is_p_minus_y(n):
    d = softmax_cross_entropy_grad(n)
    assert d["difference"] == [0] * n
    g = torch.Generator().manual_seed(n)
    for _ in range(5):
        z = torch.randn(n, generator=g, dtype=f64, requires_grad=True)
        y = torch.rand(n, generator=g, dtype=f64)
        y = y / y.sum()  # a soft target on the simplex; one-hot is the usual special case
        auto = torch.autograd.grad(F.cross_entropy(z[None], y[None]), z)[0]
        torch.testing.assert_close(torch.tensor(d["grad_fn"](z.tolist(), y.tolist()), dtype=f64), auto,
                                   atol=1e-12, rtol=0)
        raw = sp.lambdify((d["z"], d["y"]), d["grad"])(z.tolist(), y.tolist())  # SymPy's own derivative, before p - y
        torch.testing.assert_close(torch.tensor(raw, dtype=f64), auto, atol=1e-12, rtol=0)


def test_mse_and_sigmoid_derivatives():
    d = mse_grad(3)
    assert d["difference"] == [0, 0, 0]
    yhat = torch.tensor([0.3, -1.2, 2.0], dtype=f64, requires_grad=True)
    y = torch.tensor([1.0, 0.5, -0.5], dtype=f64)
    auto = torch.autograd.grad(F.mse_loss(yhat, y), yhat)[0]
    torch.testing.assert_close(torch.tensor(d["grad_fn"](yhat.tolist(), y.tolist()), dtype=f64), auto,
                               atol=1e-12, rtol=0)
    s = sigmoid_derivative()
    assert s["difference"] == 0
    x = torch.linspace(-6, 6, 13, dtype=f64, requires_grad=True)
    auto = torch.autograd.grad(torch.sigmoid(x).sum(), x)[0]
    ours = torch.tensor([s["derivative_fn"](v) for v in x.tolist()], dtype=f64)
    torch.testing.assert_close(ours, auto, atol=1e-12, rtol=0)


def test_symbolic_linear_step_matches_the_numeric_one():
    d = linear_regression_step_symbolic()
    assert sp.simplify(d["grad_w"] - 2 * d["x"] * (d["w"] * d["x"] + d["b"] - d["y"])) == 0
    assert d["step_fn"](2, 0, 1, 2, 0.1) == (0, 0, 0, 2, 0)  # the source's example: nothing moves
    rng = random.Random(0)
    for _ in range(10):
        args = [rng.uniform(-3, 3) for _ in range(4)] + [rng.uniform(0, 0.3)]
        s = linear_regression_step(*args)
        assert d["step_fn"](*args) == pytest.approx((s.loss, s.grad_w, s.grad_b, s.new_w, s.new_b), abs=1e-12)
        subs = dict(zip((d["w"], d["b"], d["x"], d["y"], d["alpha"]), args))
        assert float(d["new_loss"].subs(subs)) == pytest.approx(s.new_loss, abs=1e-12)


def test_gaussian_kl_by_integration_equals_the_closed_form_and_torch():
    d = gaussian_kl()
    assert d["difference"] == 0
    assert d["kl"].subs({d["mu"]: 0, d["sigma"]: 1}) == 0
    for mu, sigma in [(0.0, 1.0), (1.5, 0.3), (-2.0, 2.5), (0.1, 0.05)]:
        ref = kl_divergence(Normal(torch.tensor(mu, dtype=f64), torch.tensor(sigma, dtype=f64)),
                            Normal(torch.tensor(0.0, dtype=f64), torch.tensor(1.0, dtype=f64)))
        assert d["kl_fn"](mu, sigma) == pytest.approx(ref.item(), abs=1e-12)


def test_elbo_matches_monte_carlo(elbo):
    assert elbo["difference"] == 0
    for args in [(1.3, 0.8, 0.2, 0.5, 0.3, 0.7), (-0.7, 2.0, -1.0, 1.5, 0.0, 1.0)]:
        estimate, se = elbo_monte_carlo(*args, n_samples=200_000, seed=1)
        assert abs(elbo["elbo_fn"](*args) - estimate) < 4 * se


def test_elbo_is_a_lower_bound_with_the_minus_sign(elbo):
    """log p(x) - ELBO = KL(q || posterior) >= 0: tight at the true posterior; the plus sign breaks it."""
    x, a, c, s = 1.3, 0.8, 0.2, 0.5
    post = sp.lambdify((elbo["x"], elbo["a"], elbo["c"], elbo["s"]), (elbo["posterior_mean"], elbo["posterior_std"]))
    m, sd = post(x, a, c, s)
    log_px = elbo["log_evidence_fn"](x, a, c, s)
    assert elbo["elbo_fn"](x, a, c, s, m, sd) == pytest.approx(log_px, abs=1e-12)
    kl_fn = sp.lambdify((elbo["mu"], elbo["sigma"]), elbo["kl"])
    plus_sign_breaks_bound = False
    for mu, sigma in [(0.0, 1.0), (1.0, 0.2), (-1.0, 2.0), (m, sd * 1.5)]:
        gap = log_px - elbo["elbo_fn"](x, a, c, s, mu, sigma)
        to_posterior = kl_divergence(Normal(torch.tensor(mu, dtype=f64), torch.tensor(sigma, dtype=f64)),
                                     Normal(torch.tensor(m, dtype=f64), torch.tensor(sd, dtype=f64)))
        assert gap == pytest.approx(to_posterior.item(), abs=1e-10) and gap >= 0
        wrong = elbo["elbo_fn"](x, a, c, s, mu, sigma) + 2 * kl_fn(mu, sigma)  # E_q[log p(x|z)] + KL
        plus_sign_breaks_bound |= wrong > log_px
    assert plus_sign_breaks_bound


@pytest.mark.parametrize("call, error", [
    (lambda: softmax_cross_entropy_grad(1), ValueError),
    (lambda: softmax_cross_entropy_grad(7), ValueError),
    (lambda: softmax_cross_entropy_grad("3"), TypeError),
    (lambda: mse_grad(0), ValueError),
    (lambda: mse_grad(2.0), TypeError),
    (lambda: elbo_monte_carlo(1.0, 1.0, 0.0, 1.0, 0.0, 0.0), ValueError),
    (lambda: elbo_monte_carlo(1.0, 1.0, 0.0, -1.0, 0.0, 1.0), ValueError),
    (lambda: elbo_monte_carlo("1", 1.0, 0.0, 1.0, 0.0, 1.0), TypeError),
    (lambda: elbo_monte_carlo(float("nan"), 1.0, 0.0, 1.0, 0.0, 1.0), ValueError),
    (lambda: elbo_monte_carlo(1.0, 1.0, 0.0, 1.0, 0.0, 1.0, n_samples=1), ValueError),
])
def test_derive_rejects_bad_input(call, error):
    with pytest.raises(error):
        call()
