"""Lesson 8's graders pass a correct answer, name each common mistake, and refuse the library's code."""

import pytest
import torch

from llmxai import checks
from llmxai.data.induction import half_losses
from llmxai.explain.mech import induction_head_scores, previous_token_head_scores
from llmxai.lesson_checks.training_dynamics import _ratio
from test_lesson_checks import assert_verdict, grader_cases


def prev(P, *, start=1, key=-1, how="mean"):
    t = torch.arange(start, P.shape[-1])
    picked = P[:, t, t + key]
    return {"mean": picked.mean(), "max": picked.amax(), "sum": picked.sum()}[how].item()


@pytest.mark.parametrize("fn, hint", grader_cases(prev, {
    "diagonal": (lambda P: prev(P, key=0), "diagonal"),
    "future": (lambda P: prev(P, start=0, key=0) * 0, "under a causal mask"),
    "from zero": (lambda P: prev(P, start=0), "no previous token"),
    "max": (lambda P: prev(P, how="max"), "maximum"),
    "sum": (lambda P: prev(P, how="sum"), "summed"),
    "tensor": (lambda P: P[:, torch.arange(1, P.shape[-1]), torch.arange(P.shape[-1] - 1)].mean(0), "one number"),
    "library": (previous_token_head_scores, "library"),
}))
def test_previous_token_score_grader(fn, hint):
    assert_verdict(checks.check_previous_token_score, fn, hint)


def ind(P, L, *, first=None, key=1, how="mean"):
    q = torch.arange(L + 1, 2 * L + 1) if first is None else torch.arange(first, first + L)
    picked = P[:, q, q - L + key]
    return {"mean": picked.mean(), "max": picked.amax()}[how].item()


@pytest.mark.parametrize("fn, hint", grader_cases(ind, {
    "duplicate": (lambda P, L: ind(P, L, key=0), "duplicate-token"),
    "previous": (lambda P, L: ind(P, L, key=L - 1), "previous-token score"),
    "no bos": (lambda P, L: ind(P, L, first=L), "off by one|first copy"),
    "max": (lambda P, L: ind(P, L, how="max"), "maximum"),
    "all queries": (lambda P, L: P[:, torch.arange(L, 2 * L + 1), torch.arange(1, L + 2)].mean().item(), "FIRST copy"),
    "library": (induction_head_scores, "library"),
}))
def test_induction_score_grader(fn, hint):
    assert_verdict(checks.check_induction_score, fn, hint)


@pytest.mark.parametrize("fn, hint", grader_cases(lambda z, ids, L: _ratio(z, ids, L).item(), {
    "unshifted": (lambda z, ids, L: _ratio(z, ids, L, shift=0), "not shifted"),
    "inverse": (lambda z, ids, L: _ratio(z, ids, L, how="inverse"), "upside down"),
    "difference": (lambda z, ids, L: _ratio(z, ids, L, how="difference"), "difference"),
    "second x1": (lambda z, ids, L: _ratio(z, ids, L, with_x1=True), "second x_1"),
    "first x1": (lambda z, ids, L: _ratio(z, ids, L, with_first=True), "follows BOS"),
    "both x1": (lambda z, ids, L: _ratio(z, ids, L, with_x1=True, with_first=True), "both copies"),
    "torch": (lambda z, ids, L: torch.nn.functional.cross_entropy(z[0], ids[0]), "ready-made"),
    "library": (half_losses, "library"),
}))
def test_repeat_loss_ratio_grader(fn, hint):
    assert_verdict(checks.check_repeat_loss_ratio, fn, hint)
