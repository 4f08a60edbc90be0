"""Lesson 12's graders pass a correct answer, name each common mistake, and refuse the library."""

import pytest
import torch

from llmxai import checks, explain
from llmxai.hooks import run_with_cache
from llmxai.lesson_checks.gradcam import _at, _cam, _map
from test_lesson_checks import assert_verdict, grader_cases


@pytest.mark.parametrize("fn, hint", grader_cases(_map, {
    "no relu": (lambda A, g: _map(A, g, relu="none"), "no ReLU"),
    "sum": (lambda A, g: _map(A, g, alpha="sum"), "N times too large"),
    "channels": (lambda A, g: _map(A, g, alpha="channels"), "over the channels"),
    "no average": (lambda A, g: _map(A, g, alpha="none"), "gradient x activation"),
    "relu on weights": (lambda A, g: _map(A, g, relu="weights"), "not on the channel weights"),
    "channel mean": (lambda A, g: _map(A, g, channels="mean"), "K times too small"),
    "shape": (lambda A, g: _map(A, g)[:, None], "shape"),
}))
def test_grad_cam_map_grader(fn, hint):
    assert_verdict(checks.check_grad_cam_map, fn, hint)


def by_cache(model, x, target, layer):
    logits, cache = run_with_cache(model, x, names=[layer], detach=False)
    A = cache[layer]
    (g,) = torch.autograd.grad(logits[torch.arange(len(x)), target].sum(), A)
    return _map(A.detach(), g)


@pytest.mark.parametrize("fn, hint", grader_cases(by_cache, {
    "reference": (lambda m, x, t, layer: _at(m, x, t), None),
    "probability": (lambda m, x, t, layer: _at(m, x, t, score="probability"), "softmax probability"),
    "log probability": (lambda m, x, t, layer: _at(m, x, t, score="log_probability"), "log-probability"),
    "predicted": (lambda m, x, t, layer: _at(m, x, t, score="predicted"), "predicted class"),
    "all logits": (lambda m, x, t, layer: _at(m, x, t, score="all"), "sum of all the logits"),
    "mean": (lambda m, x, t, layer: _at(m, x, t, reduce="mean"), "B times too small"),
    "input gradient": (lambda m, x, t, layer: _at(m, x, t, wrt="input"), "not the input"),
    "library": (lambda m, x, t, layer: explain.grad_cam(m, x, t, layer), "ready-made"),
    "library itself": (explain.grad_cam, "library"),
}))
def test_grad_cam_at_grader(fn, hint):
    assert_verdict(checks.check_grad_cam_at, fn, hint)


@pytest.mark.parametrize("fn, hint", grader_cases(_cam, {
    "1/N": (lambda A, W, t: _cam(A, W, t, scale=1.0 / A[0, 0].numel()), "no 1/N"),
    "relu": (lambda A, W, t: _cam(A, W, t, relu=True), "signed"),
    "first row": (lambda A, W, t: _cam(A, W, t, rows="first"), "first row"),
    "all classes": (lambda A, W, t: _cam(A, W, t, rows="all"), "all classes"),
    "raises": (lambda A, W, t: torch.einsum("bk...,kc->b...", A, W), "raised"),
}))
def test_cam_grader(fn, hint):
    assert_verdict(checks.check_cam, fn, hint)
