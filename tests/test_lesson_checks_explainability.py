"""Lesson 9's graders pass a correct answer, name each common mistake, and refuse the library's code."""

import pytest
import torch

from llmxai import checks
from llmxai.explain import deletion_curve, leave_one_out, lime
from llmxai.lesson_checks.explainability import _deletion, _wls
from test_lesson_checks import assert_verdict, grader_cases


def occ(f, x, base, *, kind="right"):
    eye = torch.eye(x.shape[0], dtype=torch.bool)
    if kind == "keep only":
        return f(torch.where(eye, x, base)) - f(base[None])
    if kind == "all but":
        return f(x[None]) - f(torch.where(eye, x, base))
    rows = torch.where(eye, torch.zeros_like(base) if kind == "zero" else base, x)
    if kind == "raw":
        return f(rows)
    d = f(x[None]) - f(rows)
    return {"right": d, "zero": d, "sign": -d, "abs": d.abs()}[kind]


@pytest.mark.parametrize("fn, hint", grader_cases(occ, {
    k: ((lambda k: lambda f, x, b: occ(f, x, b, kind=k))(k), h) for k, h in [
        ("sign", "sign"), ("abs", "absolute"), ("raw", "scores of the occluded"), ("zero", "replaced features by 0"),
        ("keep only", "kept ONLY"), ("all but", "every feature but i")]
} | {
    "rows": (lambda f, x, b: torch.where(torch.eye(len(x), dtype=torch.bool), b, x), r"\(d, d\)"),
    "one number": (lambda f, x, b: f(x[None])[0], "one score per feature"),
    "library": (leave_one_out, "library"),
}))
def test_occlude_each_grader(fn, hint):
    assert_verdict(checks.check_occlude_each, fn, hint)


@pytest.mark.parametrize("fn, hint", grader_cases(lambda Z, s, w: _wls(Z, s, w), {
    "unweighted": (lambda Z, s, w: _wls(Z, s, w, weighted=False), "weights are ignored"),
    "w not sqrt": (lambda Z, s, w: _wls(Z, s, w, power=1.0), "sqrt"),
    "no intercept": (lambda Z, s, w: _wls(Z, s, w, intercept=False), "no intercept: add"),
    "neither": (lambda Z, s, w: _wls(Z, s, w, intercept=False, weighted=False), "no intercept and no weights"),
    "swapped": (lambda Z, s, w: _wls(Z, s, w)[::-1], "swapped"),
    "coef only": (lambda Z, s, w: _wls(Z, s, w)[1], "pair"),
    "bad intercept": (lambda Z, s, w: (_wls(Z, s, w)[0] + 1, _wls(Z, s, w)[1]), "intercept is not"),
    "library": (lime, "library"),
}))
def test_local_surrogate_grader(fn, hint):
    assert_verdict(checks.check_local_surrogate, fn, hint)


@pytest.mark.parametrize("fn, hint", grader_cases(lambda f, x, a, b: _deletion(f, x, a, b), {
    "ascending": (lambda f, x, a, b: _deletion(f, x, a, b, order="asc"), "increasing order"),
    "absolute": (lambda f, x, a, b: _deletion(f, x, a, b, order="abs"), "absolute value"),
    "one at a time": (lambda f, x, a, b: _deletion(f, x, a, b, cumulative=False), "not cumulative"),
    "no start": (lambda f, x, a, b: _deletion(f, x, a, b, start=False), "starts at k = 0"),
    "zeros": (lambda f, x, a, b: _deletion(f, x, a, torch.zeros_like(b)), "setting them to 0"),
    "library": (deletion_curve, "library"),
}))
def test_deletion_scores_grader(fn, hint):
    assert_verdict(checks.check_deletion_scores, fn, hint)
