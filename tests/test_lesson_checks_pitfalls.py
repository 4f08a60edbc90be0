"""Lesson 10's graders pass a correct answer, name each pitfall, and refuse the library's code."""

import pytest
import torch

from llmxai import checks
from llmxai.derive import gaussian_kl
from llmxai.explain import grad_cam
from llmxai.lesson_checks.pitfalls import _cam, _elbo
from test_lesson_checks import assert_verdict, grader_cases


@pytest.mark.parametrize("fn, hint", grader_cases(lambda e, m, lv: _elbo(e, m, lv), {
    "plus KL": (lambda e, m, lv: _elbo(e, m, lv, sign=1.0), "ADDED the KL"),
    "no half": (lambda e, m, lv: _elbo(e, m, lv, half=1.0), "1/2"),
    "sigma": (lambda e, m, lv: _elbo(e, m, lv, var=(0.5 * lv).exp()), "sigma where sigma"),
    "log var as var": (lambda e, m, lv: _elbo(e, m, lv, var=lv), "is a logarithm"),
    "mean over dims": (lambda e, m, lv: _elbo(e, m, lv, reduce="mean"), "SUM"),
    "batch mean": (lambda e, m, lv: _elbo(e, m, lv).mean(), "one number"),
    "library": (gaussian_kl, "library"),
}))
def test_gaussian_elbo_grader(fn, hint):
    assert_verdict(checks.check_gaussian_elbo, fn, hint)


@pytest.mark.parametrize("fn, hint", grader_cases(lambda A, G: _cam(A, G), {
    "grad x act": (lambda A, G: _cam(A, G, pool="none"), "no pooling of the gradients"),
    "no relu": (lambda A, G: _cam(A, G, relu=False), "ReLU is missing"),
    "activation weights": (lambda A, G: _cam(A, G, weights_from="act"), "GRADIENT"),
    "sum": (lambda A, G: _cam(A, G, pool="sum"), "MEAN"),
    "relu before": (lambda A, G: _cam(A, G, before=True), "after the sum over channels"),
    "per channel": (lambda A, G: G.mean((2, 3), keepdim=True) * A, r"\(B, C, H, W\)"),
    "weights": (lambda A, G: G.mean((2, 3)), r"\(B, C\)"),
    "library": (grad_cam, "library"),
}))
def test_gradcam_map_grader(fn, hint):
    assert_verdict(checks.check_gradcam_map, fn, hint)


def loop(params, loss_fn, batches, lr, *, reset=True, sign=-1.0, rebind=False, item=True, no_grad=True, late=False):
    losses = []
    for batch in batches:
        loss = loss_fn(params, batch)
        loss.backward()
        if rebind:
            for p in params:
                p = p - lr * p.grad  # noqa: PLW2901 (the mistake)
        elif no_grad:
            with torch.no_grad():
                for p in params:
                    p += sign * lr * p.grad
                    if reset:
                        p.grad = None
        else:
            for p in params:
                p -= lr * p.grad
        losses.append(loss_fn(params, batch).item() if late else (loss.item() if item else loss))
    return losses


@pytest.mark.parametrize("fn, hint", grader_cases(loop, {
    "accumulate": (lambda *a: loop(*a, reset=False), "accumulate"),
    "ascent": (lambda *a: loop(*a, sign=1.0), "sign: a descent"),
    "both": (lambda *a: loop(*a, reset=False, sign=1.0), "sign and accumulation"),
    "rebind": (lambda *a: loop(*a, rebind=True), "IN PLACE"),
    "tensors": (lambda *a: loop(*a, item=False), r"loss.item\(\)"),
    "autograd": (lambda *a: loop(*a, no_grad=False), "torch.no_grad"),
    "after update": (lambda *a: loop(*a, late=True), "BEFORE the update"),
    "optimiser": (lambda params, loss_fn, batches, lr: torch.optim.SGD(params, lr=lr), "ready-made"),
}))
def test_sgd_loop_grader(fn, hint):
    assert_verdict(checks.check_sgd_loop, fn, hint)
