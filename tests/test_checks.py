"""The lesson graders pass the solutions and catch the common mistakes with a hint."""

import json
import math
import pathlib

import pytest
import torch

from llmxai import checks
from llmxai.cli import export_lesson, strip_solutions

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


def test_unimplemented_is_reported_as_such():
    def todo(x):
        raise NotImplementedError

    with pytest.raises(checks.NotYetImplemented, match="not implemented"):
        checks.check_softmax(todo)


def test_strip_solutions_keeps_indentation():
    src = "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n\ncheck(f)\n"
    assert strip_solutions(src) == 'def f(x):\n    raise NotImplementedError("your code here")\n\ncheck(f)\n'


@pytest.mark.parametrize("lesson", sorted((ROOT / "lessons").glob("*.ipynb")), ids=lambda p: p.name)
def test_exported_lesson_has_no_solutions_and_its_checks_fail(lesson, tmp_path):
    out = tmp_path / lesson.name
    export_lesson(lesson, out)
    nb = json.loads(out.read_text())
    code = [c["source"] for c in nb["cells"] if c["cell_type"] == "code"]
    assert not any("BEGIN SOLUTION" in c for c in code)
    assert any("NotImplementedError" in c for c in code)
    # Run the student copy's cells: the first check must report "not implemented".
    namespace = {}
    with pytest.raises(checks.NotYetImplemented):
        for c in code:
            exec(compile(c, str(out), "exec"), namespace)
