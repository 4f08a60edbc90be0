"""Lesson 13's graders pass a correct answer, name each common mistake, and refuse the library."""

import pytest
import torch

from llmxai import checks, explain
from llmxai.explain.lrp import linear_relevance
from llmxai.lesson_checks.lrp import _eps_rule, _lrp_net, _zplus
from test_lesson_checks import assert_verdict, grader_cases


@pytest.mark.parametrize("fn, hint", grader_cases(_eps_rule, {
    "no bias": (lambda *a: _eps_rule(*a, bias=False), "bias belongs in the denominator"),
    "gradient": (lambda *a: _eps_rule(*a, times_a=False), "multiply by a_i"),
    "unsigned": (lambda *a: _eps_rule(*a, signed=False), "sign of z_j"),
    "no eps": (lambda *a: _eps_rule(*a, use_eps=False), "epsilon is missing"),
    "transposed": (lambda a, W, b, R, eps: (a @ W) * R, "raised"),
    "other": (lambda a, W, b, R, eps: (a @ W.T) @ W, "relevances differ"),
    "library": (lambda a, W, b, R, eps: linear_relevance(a, W, b, R, explain.Epsilon(eps)), "ready-made|library"),
}))
def test_lrp_epsilon_grader(fn, hint):
    assert_verdict(checks.check_lrp_epsilon, fn, hint)


@pytest.mark.parametrize("fn, hint", grader_cases(_lrp_net, {
    "all classes": (lambda *a: _lrp_net(*a, start="all"), "every class"),
    "R = 1": (lambda *a: _lrp_net(*a, start="one"), "R = 1"),
    "clipped": (lambda *a: _lrp_net(*a, clip=True), "clipped"),
    "pre-activations": (lambda *a: _lrp_net(*a, a_kind="pre"), "AFTER the ReLU"),
    "library": (lambda layers, x, t, eps: explain.lrp(torch.nn.Linear(5, 3).double(), x, t), "ready-made"),
}))
def test_lrp_mlp_grader(fn, hint):
    assert_verdict(checks.check_lrp_mlp, fn, hint)


@pytest.mark.parametrize("fn, hint", grader_cases(_zplus, {
    "no clamp": (lambda *a: _zplus(*a, clamp="none", den="signed"), "keep only the positive"),
    "clipped result": (lambda *a: _zplus(*a, clamp="result", den="signed"), "not the result"),
    "signed denominator": (lambda *a: _zplus(*a, den="signed"), "POSITIVE contributions"),
    "bias": (lambda *a: _zplus(*a, bias=True), "ignores the bias"),
    "0/0": (lambda *a: _zplus(*a, safe=False), "NaN or inf"),
    "library": (lambda a, W, b, R: linear_relevance(a, W, b, R, explain.ZPlus()), "ready-made|library"),
}))
def test_lrp_zplus_grader(fn, hint):
    assert_verdict(checks.check_lrp_zplus, fn, hint)
