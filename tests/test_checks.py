"""The lesson graders pass the solutions and catch the common mistakes with a hint."""

import json
import math
import pathlib

import pytest
import torch

from llmxai import checks
from llmxai.lessons import export_lesson

ROOT = pathlib.Path(__file__).resolve().parents[1]


def good_softmax(x):
    e = (x - x.amax(-1, keepdim=True)).exp()
    return e / e.sum(-1, keepdim=True)


def attention_with(scale, axis=-1, values="v"):
    def attention(q, k, v):
        w = torch.softmax(q @ k.transpose(-2, -1) * scale(q.shape[-1]), dim=axis)
        return w @ {"v": v, "k": k}[values], w

    return attention


def test_correct_answers_pass():
    assert checks.check_softmax(good_softmax) is True
    assert checks.check_attention(attention_with(lambda d: 1 / math.sqrt(d))) is True


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda x: x.exp() / x.exp().sum(-1, keepdim=True), "maximum"),
        (lambda x: torch.softmax(x, dim=0), "LAST axis"),
        (lambda x: x.exp() / x.exp().sum(), "values differ"),
        (lambda x: (x - x.max()).exp() / (x - x.max()).exp().sum(-1, keepdim=True), "maximum"),
    ],
)
def test_softmax_mistakes_get_hints(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_softmax(wrong)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (attention_with(lambda d: 1.0), "sqrt"),
        (attention_with(lambda d: 1.0 / d), "divided by d_k"),
        (attention_with(lambda d: 1 / math.sqrt(d), axis=-2), "wrong axis"),
        (lambda q, k, v: attention_with(lambda d: 1 / math.sqrt(d))(q, k, v)[0], "pair"),
    ],
)
def test_attention_mistakes_get_hints(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_attention(wrong)


def causal_with(fill=float("-inf"), allowed=lambda T: torch.ones(T, T, dtype=torch.bool).tril(), after=False, scale=True):
    def causal_attention(q, k, v):
        scores = q @ k.transpose(-2, -1) / (math.sqrt(q.shape[-1]) if scale else 1.0)
        keep = allowed(q.shape[-2])
        if after:
            w = torch.softmax(scores, -1) * keep
        else:
            w = torch.softmax(scores.masked_fill(~keep, fill), -1)
        return w @ v, w

    return causal_attention


def test_causal_attention_passes_and_catches_mistakes():
    assert checks.check_causal_attention(causal_with()) is True
    assert checks.check_causal_attention(causal_with(), seed=7) is True
    for wrong, hint in [(causal_with(fill=0.0), "-inf"),
                        (causal_with(allowed=lambda T: torch.ones(T, T, dtype=torch.bool).triu()), "wrong way"),
                        (causal_with(after=True), "after the softmax"),
                        (causal_with(allowed=lambda T: torch.ones(T, T, dtype=torch.bool)), "no mask"),
                        (causal_with(scale=False), "scaling")]:
        with pytest.raises(AssertionError, match=hint):
            checks.check_causal_attention(wrong)


def test_own_work_refuses_the_library_under_any_name():
    from torch.nn.functional import softmax as imported

    def own(x):
        e = (x - x.amax(-1, keepdim=True)).exp()
        return e / e.sum(-1, keepdim=True)

    def wraps(x):
        return torch.softmax(x, -1)

    def via_import(x):
        return imported(x, -1)

    def method(x):
        return x.softmax(-1)

    rules = dict(forbidden=("softmax",), library=(torch.softmax, imported), exercise="softmax")
    assert checks.check_own_work(own, **rules) is True
    for wrong in (wraps, via_import, method, torch.softmax):
        with pytest.raises(AssertionError, match="softmax"):
            checks.check_own_work(wrong, **rules)

    def attention(q, k, v):  # the learner's own softmax under its own name is fine
        return own(q @ k.transpose(-2, -1)) @ v

    assert checks.check_own_work(attention, forbidden=("scaled_dot_product_attention",)) is True


def test_unimplemented_is_reported_as_such():
    def todo(x):
        raise NotImplementedError

    with pytest.raises(checks.NotYetImplemented, match="not implemented"):
        checks.check_softmax(todo)


@pytest.mark.parametrize("lesson", sorted((ROOT / "lessons").glob("*.ipynb")), ids=lambda p: p.name)
def test_exported_lesson_has_no_solutions_and_its_checks_fail(lesson, tmp_path):
    out = tmp_path / lesson.name
    export_lesson(lesson, out)
    nb = json.loads(out.read_text())
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert not any("BEGIN SOLUTION" in c for c in code)
    assert any("NotImplementedError" in c for c in code)
    # Run the student copy's cells: the first check must report "not implemented".
    namespace = {}
    with pytest.raises(checks.NotYetImplemented):
        for c in code:
            exec(compile(c, str(out), "exec"), namespace)
