"""Lesson 18's graders pass a correct answer, name each common mistake, and refuse the library."""

import pytest
import torch

from llmxai import checks, explain
from llmxai.lesson_checks.judging import _aopc, _eraser, _spearman
from test_lesson_checks import assert_verdict, grader_cases


def aopc_from_curve(curve):
    return (curve[:, :1] - curve).mean(1)


@pytest.mark.parametrize("fn, hint", grader_cases(aopc_from_curve, {
    "sign": (lambda c: _aopc(c, sign=-1.0), "sign is flipped"),
    "skip start": (lambda c: _aopc(c, skip_start=True), "k = 1 .. L only"),
    "trapezoid": (lambda c: _aopc(c, how="trapezoid"), "trapezoid"),
    "sum": (lambda c: _aopc(c, how="sum"), "summed"),
    "batch mean": (lambda c: _aopc(c).mean(), "whole batch"),
    "drops": (lambda c: c[:, :1] - c, "drops per step"),
    "curve mean": (lambda c: c.mean(1), "mean score along the curve"),
    "raises": (lambda c: c[:, :, 0], "raised"),
}))
def test_aopc_from_curve_grader(fn, hint):
    assert_verdict(checks.check_aopc_from_curve, fn, hint)


def spearman_rho(a, b):
    def ranks(x):
        r = torch.empty(len(x), dtype=torch.float64)
        r[torch.argsort(x, stable=True)] = torch.arange(1, len(x) + 1, dtype=torch.float64)
        for v in x.unique():
            r[x == v] = r[x == v].mean()
        return r

    ra, rb = ranks(a), ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float(ra @ rb / (ra.norm() * rb.norm()))


@pytest.mark.parametrize("fn, hint", grader_cases(spearman_rho, {
    "pearson": (lambda a, b: _spearman(a, b, "pearson"), "Pearson's correlation of the values"),
    "formula": (lambda a, b: _spearman(a, b, "formula"), "only without ties"),
    "ordinal": (lambda a, b: _spearman(a, b, "ordinal"), "tied values got different ranks"),
    "argsort": (lambda a, b: _spearman(a, b, "argsort"), "ORDER"),
    "tensor out": (lambda a, b: torch.tensor(spearman_rho(a, b)), None),
    "pair out": (lambda a, b: (spearman_rho(a, b), 0.0), "one number"),
    "library": (lambda a, b: explain.spearman(a, b), "ready-made"),
    "library itself": (explain.spearman, "library"),
}))
def test_spearman_rho_grader(fn, hint):
    assert_verdict(checks.check_spearman_rho, fn, hint)


def eraser_scores(F, x, mask, baseline):
    return _eraser(F, x, mask, baseline)


@pytest.mark.parametrize("fn, hint", grader_cases(eraser_scores, {
    "swapped": (lambda F, x, m, b: _eraser(F, x, m, b)[::-1], "swapped"),
    "inverted mask": (lambda F, x, m, b: _eraser(F, x, ~m, b), "swapped"),
    "sign": (lambda F, x, m, b: tuple(-t for t in _eraser(F, x, m, b)), "sign is flipped"),
    "no difference": (lambda F, x, m, b: (F(torch.where(m, b, x)), F(torch.where(m, x, b))), "perturbed input's score"),
    "zeros": (lambda F, x, m, b: _eraser(F, x, m, 0.0), "setting them to 0"),
    "suff wrong": (lambda F, x, m, b: (_eraser(F, x, m, b)[0], F(x) - F(torch.where(m, b, x)) * 0.5),
                   "sufficiency is not"),
    "one tensor": (lambda F, x, m, b: torch.stack(_eraser(F, x, m, b)), "pair"),
    "library": (lambda F, x, m, b: (explain.comprehensiveness(F, x, m, None), None), "ready-made"),
}))
def test_eraser_scores_grader(fn, hint):
    assert_verdict(checks.check_eraser_scores, fn, hint)
