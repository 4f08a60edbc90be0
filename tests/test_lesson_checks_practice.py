"""Lesson 19's graders (explanations in practice) pass a correct answer and name each common mistake."""

import pytest
import torch

from llmxai import checks
from llmxai.evaluation import accuracy
from llmxai.explain import rationale_auc
from llmxai.recipes import plant_token
from test_lesson_checks import assert_verdict, grader_cases


def share(scores, lengths, position, *, absolute=True, padding=False, how="sum", reduce=True, pooled=False):
    a = scores.abs() if absolute else scores
    if not padding:
        a = a * (torch.arange(scores.shape[1])[None] < lengths[:, None])
    if pooled:
        return a[:, position].sum() / a.sum()
    s = a[:, position] / (a.sum(1) if how == "sum" else a.amax(1))
    return s.mean() if reduce else s


@pytest.mark.parametrize("fn, hint", grader_cases(share, {
    "signed": (lambda s, l, p: share(s, l, p, absolute=False), "absolute values"),
    "padding": (lambda s, l, p: share(s, l, p, padding=True), "padding is counted"),
    "max": (lambda s, l, p: share(s, l, p, how="max"), "not by its largest"),
    "per sentence": (lambda s, l, p: share(s, l, p, reduce=False), "their mean over the batch"),
    "pooled": (lambda s, l, p: share(s, l, p, pooled=True), "ratio of the totals"),
    "python float": (lambda s, l, p: float(share(s, l, p)), None),
    "raises": (lambda s, l, p: s[99], "(?i)error|index"),
    "library": (rationale_auc, "library"),
}))
def test_token_share_grader(fn, hint):
    assert_verdict(checks.check_token_share, fn, hint)


def insert(ids, lengths, token, *, how="front"):
    B, T = ids.shape
    if how == "overwrite":
        out = ids.clone()
        out[:, 0] = token
        return out, lengths
    if how == "after padding":
        return torch.cat([ids, torch.full((B, 1), token)], dim=1), lengths + 1
    out = torch.zeros(B, T + 1, dtype=ids.dtype)
    if how == "back":
        out[:, :T] = ids
        out[torch.arange(B), lengths] = token
    else:
        out[:, 0] = token
        out[:, 1:] = ids
    return out, (lengths if how == "same lengths" else lengths + 1)


@pytest.mark.parametrize("fn, hint", grader_cases(insert, {
    "overwrite": (lambda i, l, t: insert(i, l, t, how="overwrite"), "overwritten"),
    "after padding": (lambda i, l, t: insert(i, l, t, how="after padding"), "after the padding"),
    "at the end": (lambda i, l, t: insert(i, l, t, how="back"), "end of each sentence"),
    "lengths kept": (lambda i, l, t: insert(i, l, t, how="same lengths"), "lengths are unchanged"),
    "floats": (lambda i, l, t: tuple(x.float() for x in insert(i, l, t)), "integer"),
    "one tensor": (lambda i, l, t: insert(i, l, t)[0], "the pair"),
    "library": (plant_token, "library"),
}))
def test_insert_token_grader(fn, hint):
    assert_verdict(checks.check_insert_token, fn, hint)


def flips(model, ids, lengths, token, insert_token, *, what="flip", use_lengths=True):
    new_ids, new_lengths = insert_token(ids, lengths, token)
    with torch.no_grad():
        before = (model(ids, lengths) if use_lengths else model(ids)).argmax(-1)
        after = (model(new_ids, new_lengths) if use_lengths else model(new_ids)).argmax(-1)
    if what == "count":
        return (after != before).sum()
    if what == "same":
        return (after == before).float().mean()
    if what == "positive":
        return (after == 1).float().mean()
    return (after != before).float().mean()


@pytest.mark.parametrize("fn, hint", grader_cases(flips, {
    "count": (lambda *a: flips(*a, what="count"), "number of flipped"),
    "no lengths": (lambda *a: flips(*a, use_lengths=False), "with the lengths"),
    "unchanged": (lambda *a: flips(*a, what="same"), "stay the same"),
    "positive": (lambda *a: flips(*a, what="positive"), "predicted positive"),
    "not a number": (lambda *a: "0.5", "one number"),
    "library": (accuracy, "library"),
}))
def test_flip_rate_grader(fn, hint):
    assert_verdict(checks.check_flip_rate, fn, hint)
