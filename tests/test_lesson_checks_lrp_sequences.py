"""Lesson 14's graders pass a correct answer, name each common mistake, and refuse the library."""

import math

import pytest
import torch

from llmxai import checks, explain
from llmxai.explain.lrp import attention_relevance
from llmxai.lesson_checks.lrp_sequences import _attention, _cell, _values
from test_lesson_checks import assert_verdict, grader_cases


@pytest.mark.parametrize("fn, hint", grader_cases(_cell, {
    "swapped": (lambda *a: _cell(*a, swap=True), "swapped"),
    "no gates": (lambda *a: _cell(*a, gated=False), "gates act as constant weights"),
    "signals": (lambda *a: _cell(*a, den="signals"), "not by c_prev \\+ g"),
    "half": (lambda *a: _cell(*a, split="half"), "not half each"),
    "unsigned": (lambda *a: _cell(*a, signed=False), "sign of c"),
    "no eps": (lambda f, c, i, g, R, eps: _cell(f, c, i, g, R, 0.0), "epsilon is missing"),
    "one tensor": (lambda *a: _cell(*a)[0], "pair"),
    "library": (lambda f, c, i, g, R, eps: explain.lrp(torch.nn.Linear(2, 2), c, 0), "ready-made"),
}))
def test_lstm_cell_relevance_grader(fn, hint):
    assert_verdict(checks.check_lstm_cell_relevance, fn, hint)


@pytest.mark.parametrize("fn, hint", grader_cases(_values, {
    "not transposed": (lambda *a: _values(*a, transpose=False), "P transposed"),
    "no v": (lambda *a: _values(*a, times_v=False), "multiply by v_jd"),
    "half": (lambda *a: _values(*a, half=True), "AttnLRP"),
    "unsigned": (lambda *a: _values(*a, signed=False), "sign of z"),
    "no eps": (lambda P, V, R, eps: _values(P, V, R, 0.0), "epsilon is missing"),
    "library": (lambda P, V, R, eps: attention_relevance(P, P, V, R, method="cp")[2], "ready-made|library"),
}))
def test_cp_value_relevance_grader(fn, hint):
    assert_verdict(checks.check_cp_value_relevance, fn, hint)


@pytest.mark.parametrize("fn, hint", grader_cases(_attention, {
    "not detached": (lambda q, k, v: _attention(q, k, v, detach="none"), "q and k receive a gradient"),
    "output detached": (lambda q, k, v: _attention(q, k, v, detach="output"), "v receives no gradient"),
    "no scale": (lambda q, k, v: _attention(q, k, v, scale=False), "sqrt\\(d\\)"),
    "query axis": (lambda q, k, v: _attention(q, k, v, axis=-2), "over the keys"),
    "weights": (lambda q, k, v: (q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])).softmax(-1), "shape"),
    "library": (lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(q, k, v), "ready-made"),
}))
def test_cp_attention_grader(fn, hint):
    assert_verdict(checks.check_cp_attention, fn, hint)
