"""Lesson 16's graders (perturbation and Shapley values) pass a correct answer and name each common mistake."""

import math

import pytest
import torch

from llmxai import checks
from llmxai.explain import exact_shapley, lime
from test_lesson_checks import assert_verdict, grader_cases


def bits(M):
    return (torch.arange(2 ** M)[:, None] >> torch.arange(M)) & 1


def shapley(v, M, *, weight=None, sign=1.0, reverse=False):
    if reverse:  # player j read from bit M-1-j
        v = v[(bits(M).flip(1) * 2 ** torch.arange(M)).sum(1)]
    phi = torch.zeros(M, dtype=v.dtype)
    for code in range(2 ** M):
        s = bin(code).count("1")
        for i in range(M):
            if not code >> i & 1:
                w = weight(s, M) if weight else math.factorial(s) * math.factorial(M - s - 1) / math.factorial(M)
                phi[i] += sign * w * (v[code | 1 << i] - v[code])
    return phi


@pytest.mark.parametrize("fn, hint", grader_cases(shapley, {
    "banzhaf": (lambda v, M: shapley(v, M, weight=lambda s, M: 1 / 2 ** (M - 1)), "Banzhaf"),
    "no 1/M": (lambda v, M: shapley(v, M, weight=lambda s, M: 1 / math.comb(M - 1, s)), "M times too large"),
    "sign": (lambda v, M: shapley(v, M, sign=-1.0), "sign"),
    "leave-one-out": (lambda v, M: torch.stack([v[-1] - v[2 ** M - 1 - 2 ** j] for j in range(M)]), "leave-one-out"),
    "bits reversed": (lambda v, M: shapley(v, M, reverse=True), "backwards"),
    "column": (lambda v, M: shapley(v, M)[:, None], r"shape \("),
    "raises": (lambda v, M: v[2 ** M + 3], "raised"),
}))
def test_shapley_values_grader(fn, hint):
    assert_verdict(checks.check_shapley_values, fn, hint)


def kernel(s, M, *, top=True, binom=lambda M, k: math.comb(M, k)):
    s = s.double()
    c = torch.tensor([binom(M, int(k)) for k in s], dtype=torch.float64)
    return (M - 1 if top else 1) / (c * s * (M - s))


@pytest.mark.parametrize("fn, hint", grader_cases(kernel, {
    "no binomial": (lambda s, M: (M - 1) / (s.double() * (M - s.double())), "binomial C\\(M, s\\) is missing"),
    "shapley weights": (lambda s, M: torch.tensor([math.factorial(int(k)) * math.factorial(M - int(k) - 1)
                                                   / math.factorial(M) for k in s]), "Shapley value's weights"),
    "C(M-1, s)": (lambda s, M: kernel(s, M, binom=lambda M, k: math.comb(M - 1, k)), "among all M players"),
    "no M-1": (lambda s, M: kernel(s, M, top=False), "constant factor"),
    "integer": (lambda s, M: (M - 1) // (s * (M - s)), "floating"),
}))
def test_shapley_kernel_grader(fn, hint):
    assert_verdict(checks.check_shapley_kernel, fn, hint)


def ridge(Z, y, weights, alpha, *, intercept=True, penalise_b=False, root=True, square=False, with_b=False):
    A = torch.cat([torch.ones(len(y), 1, dtype=Z.dtype), Z], 1) if intercept else Z
    w = weights ** 2 if square else weights
    w = w if root else torch.ones_like(weights)
    sw = w.sqrt()[:, None]
    P = torch.eye(A.shape[1], dtype=Z.dtype) * alpha ** 0.5
    if intercept and not penalise_b:
        P = P[1:]
    coef = torch.linalg.lstsq(torch.cat([sw * A, P]), torch.cat([sw[:, 0] * y, torch.zeros(len(P), dtype=y.dtype)])).solution
    return coef if with_b or not intercept else coef[1:]


@pytest.mark.parametrize("fn, hint", grader_cases(ridge, {
    "penalised intercept": (lambda *a: ridge(*a, penalise_b=True), "intercept is penalised"),
    "no intercept": (lambda *a: ridge(*a, intercept=False), "no intercept"),
    "no weights": (lambda *a: ridge(*a, root=False), "weights are ignored"),
    "weights twice": (lambda *a: ridge(*a, square=True), "applied twice"),
    "no penalty": (lambda Z, y, w, alpha: ridge(Z, y, w, 0.0), "no penalty"),
    "with intercept": (lambda *a: ridge(*a, with_b=True), "without the intercept"),
}))
def test_lime_fit_grader(fn, hint):
    assert_verdict(checks.check_lime_fit, fn, hint)


def values(model, ids, target, baseline, *, keep=1, reverse=False, probability=False, delete=False):
    M = ids.shape[1]
    Z = bits(M).bool()
    Z = Z.flip(1) if reverse else Z
    Z = Z if keep else ~Z
    with torch.no_grad():
        if delete:
            out = torch.stack([model(ids[:, z])[0] if z.any() else model(torch.full((1, 1), baseline))[0] for z in Z])
        else:
            out = model(torch.where(Z, ids, torch.full_like(ids, baseline)))
    out = out.softmax(-1) if probability else out
    return out[:, target]


def via_library(model, ids, target, baseline):
    return exact_shapley(model, ids, target, baseline=baseline)


@pytest.mark.parametrize("fn, hint", grader_cases(values, {
    "removed bit": (lambda *a: values(*a, keep=0), "KEPT"),
    "bits reversed": (lambda *a: values(*a, reverse=True), "backwards"),
    "probability": (lambda *a: values(*a, probability=True), "probability"),
    "deleted": (lambda *a: values(*a, delete=True), "deleted"),
    "other class": (lambda m, i, t, b: values(m, i, 1 - t, b), "other class"),
    "both logits": (lambda m, i, t, b: values(m, i, slice(None), b), "target's logit only"),
    "library": (via_library, "ready-made|library"),
}))
def test_coalition_values_grader(fn, hint):
    assert_verdict(checks.check_coalition_values, fn, hint)


@pytest.mark.parametrize("check, library", [(checks.check_shapley_values, exact_shapley),
                                            (checks.check_lime_fit, lime)])
def test_the_library_itself_is_refused(check, library):
    with pytest.raises(AssertionError, match="library"):
        check(library)
