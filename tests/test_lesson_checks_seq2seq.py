"""Lesson 6's graders pass a correct answer, name each common mistake, and refuse the library's code."""

import pytest
import torch

from llmxai import checks
from llmxai.data.induction import next_token_batch
from llmxai.nn import AdditiveAttention, masked_softmax
from test_lesson_checks import assert_verdict, grader_cases


def scores(s, H, W_s, W_h, v, *, act=torch.tanh, outside=False, query=True, use_v=True, softmax=False):
    z = ((s @ W_s.T)[:, None] if query else 0.0) + H @ W_h.T
    if outside:
        return act(z @ v)
    e = act(z) @ v if use_v else act(z).sum(-1)
    return torch.softmax(e, -1) if softmax else e


@pytest.mark.parametrize("fn, hint", grader_cases(scores, {
    "no tanh": (lambda *a: scores(*a, act=lambda z: z), "no tanh"),
    "tanh outside": (lambda *a: scores(*a, outside=True), "tanh goes inside"),
    "no query": (lambda *a: scores(*a, query=False), "query is missing"),
    "no v": (lambda *a: scores(*a, use_v=False), "summed the tanh"),
    "softmax": (lambda *a: scores(*a, softmax=True), "softmax weights"),
    "no v product": (lambda s, H, W_s, W_h, v: torch.tanh((s @ W_s.T)[:, None] + H @ W_h.T), r"product with v"),
    "raises": (lambda s, H, W_s, W_h, v: torch.tanh(s @ W_s + H @ W_h) @ v, "raised"),
    "library": (AdditiveAttention, "library"),
    "library inside": (lambda s, H, W_s, W_h, v: AdditiveAttention(1, 1, 1)(s, H)[1], "library|ready-made"),
}))
def test_additive_scores_grader(fn, hint):
    assert_verdict(checks.check_additive_scores, fn, hint)


def attend(e, H, mask, *, masked=True, invert=False, axis=-1, after=False, reduce="sum"):
    m = ~mask if invert else mask
    if after:
        w = torch.softmax(e, -1) * m
    else:
        w = torch.softmax(e.masked_fill(~m, float("-inf")) if masked else e, dim=axis)
    ctx = (w[:, :, None] * H).sum(1) if reduce == "sum" else (w[:, :, None] * H).mean(1)
    return ctx, w


@pytest.mark.parametrize("fn, hint", grader_cases(attend, {
    "no mask": (lambda *a: attend(*a, masked=False), "padding gets weight"),
    "inverted": (lambda *a: attend(*a, invert=True), "inverted"),
    "after": (lambda *a: attend(*a, after=True), "after the softmax"),
    "axis": (lambda *a: attend(*a, axis=0), "batch axis"),
    "mean": (lambda *a: attend(*a, reduce="mean"), "SUM"),
    "swapped": (lambda *a: attend(*a)[::-1], "swapped"),
    "unweighted": (lambda e, H, m: (H.sum(1), attend(e, H, m)[1]), "ignores the weights"),
    "library": (lambda e, H, m: (None, masked_softmax(e, m)), "ready-made|library"),
}))
def test_attend_grader(fn, hint):
    assert_verdict(checks.check_attend, fn, hint)


@pytest.mark.parametrize("fn, hint", grader_cases(lambda t: (t[:, :-1], t[:, 1:]), {
    "unshifted": (lambda t: (t, t), "not shifted"),
    "wrong way": (lambda t: (t[:, 1:], t[:, :-1]), "wrong way"),
    "same": (lambda t: (t[:, :-1], t[:, :-1]), "inputs equal targets"),
    "lengths": (lambda t: (t, t[:, 1:]), "same length"),
    "floats": (lambda t: (t[:, :-1].double(), t[:, 1:]), "token ids"),
    "one": (lambda t: t[:, 1:], "pair"),
    "library": (next_token_batch, "library"),
    "library inside": (lambda t: next_token_batch(t), "library|ready-made"),
}))
def test_teacher_forcing_grader(fn, hint):
    assert_verdict(checks.check_teacher_forcing, fn, hint)
