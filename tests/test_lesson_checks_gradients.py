"""Lesson 11's graders pass a correct answer, name each common mistake, and refuse the library."""

import pytest
import torch

from llmxai import checks, explain
from llmxai.lesson_checks.gradients import _auc, _grad, _ig
from test_lesson_checks import assert_verdict, grader_cases


def gxi(F, x):
    return _grad(F, x) * x


@pytest.mark.parametrize("fn, hint", grader_cases(gxi, {
    "gradient only": (lambda F, x: _grad(F, x), "plain gradient"),
    "saliency": (lambda F, x: _grad(F, x).abs(), "saliency"),
    "mean": (lambda F, x: _grad(F, x, "mean") * x, "divided by B"),
    "clipped": (lambda F, x: torch.relu(_grad(F, x) * x), "clipped"),
    "summed": (lambda F, x: (_grad(F, x) * x).sum(-1), "one number per row"),
    "in place": (lambda F, x: _grad(F, x) * x.mul_(1.0 + 1e-3), "in place"),
    "library": (lambda F, x: explain.gradient_x_input(F, x, None), "ready-made"),
    "raises": (lambda F, x: F(x.T), "raised"),
}))
def test_grad_times_input_grader(fn, hint):
    assert_verdict(checks.check_grad_times_input, fn, hint)


def ig(F, x, x0, steps, **switches):
    return _ig(F, x, x0, steps, **switches)


@pytest.mark.parametrize("fn, hint", grader_cases(ig, {
    "right Riemann": (lambda *a: ig(*a, nodes="right", weights="riemann"), "right Riemann"),
    "left Riemann": (lambda *a: ig(*a, nodes="left", weights="riemann"), "left Riemann"),
    "captum weights": (lambda *a: ig(*a, weights="captum"), "weights 1/steps"),
    "ends not halved": (lambda *a: ig(*a, weights="flat"), "halve the two end weights"),
    "no difference": (lambda *a: ig(*a, times="none"), "averaged gradient"),
    "times x": (lambda *a: ig(*a, times="input"), "not by x"),
    "from zero": (lambda *a: ig(*a, start="zero"), "starts at the baseline"),
    "library": (lambda F, x, x0, n: explain.integrated_gradients(F, x, None, baseline=x0, steps=n,
                                                               method="riemann_trapezoid"), "ready-made"),
    "library itself": (explain.integrated_gradients, "library"),
}))
def test_ig_trapezoid_grader(fn, hint):
    assert_verdict(checks.check_ig_trapezoid, fn, hint)


@pytest.mark.parametrize("fn, hint", grader_cases(lambda s, r: _auc(s, r), {
    "reversed": (lambda s, r: _auc(s, r, reverse=True), "reversed"),
    "ties lose": (lambda s, r: _auc(s, r, tie=0.0), "ties count one half"),
    "ties win": (lambda s, r: _auc(s, r, tie=1.0), "not one"),
    "L squared": (lambda s, r: _auc(s, r, denominator="all"), "L \\* L"),
    "tensor": (lambda s, r: torch.tensor([_auc(s, r), 0.0]), "one number"),
    "library": (lambda s, r: explain.rationale_auc(s, r).item(), "ready-made|library"),
    "library itself": (explain.rationale_auc, "library"),
}))
def test_token_auc_grader(fn, hint):
    assert_verdict(checks.check_token_auc, fn, hint)
