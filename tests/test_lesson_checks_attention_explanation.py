"""Lesson 15's graders (attention as explanation) pass a correct answer and name each common mistake."""

import pytest
import torch

from llmxai import checks
from llmxai.explain import attention_rollout
from test_lesson_checks import assert_verdict, grader_cases


def rollout(A, *, residual=0.5, reverse=False, transpose=False, plain_sum=False, last_only=False):
    T = A.shape[-1]
    eye = torch.eye(T, dtype=A.dtype)
    R = eye
    layers = A[-1:] if last_only else A
    for layer in layers:
        M = layer + eye if plain_sum else (1 - residual) * layer + residual * eye
        M = M.T if transpose else M
        R = R @ M if reverse else M @ R
    return R


@pytest.mark.parametrize("fn, hint", grader_cases(rollout, {
    "no residual": (lambda A: rollout(A, residual=0.0), "residual is missing"),
    "reversed": (lambda A: rollout(A, reverse=True), "wrong order"),
    "A + I": (lambda A: rollout(A, plain_sum=True), "rows must sum to 1"),
    "transposed": (lambda A: rollout(A, transpose=True), "transposed"),
    "last layer": (lambda A: rollout(A, last_only=True), "last layer only"),
    "raises": (lambda A: A @ torch.ones(3), "raised"),
    "library": (attention_rollout, "library"),
    "library inside": (lambda A: attention_rollout(A, A), "ready-made|library"),
}))
def test_rollout_product_grader(fn, hint):
    assert_verdict(checks.check_rollout_product, fn, hint)


def capacity(A, *, transpose=True, diagonal=False, both=False, with_input=True, reverse=False):
    L, T, _ = A.shape
    N = (L + 1) * T if with_input else L * T
    cap = torch.zeros(N, N, dtype=A.dtype)
    layers = A.flip(0) if reverse else A
    for layer in range(L if with_input else L - 1):
        below, above = layer * T, (layer + (0 if diagonal else 1)) * T
        block = layers[layer].T if transpose else layers[layer]
        cap[below:below + T, above:above + T] = block
        if both:
            cap[above:above + T, below:below + T] = block.T
    return cap


@pytest.mark.parametrize("fn, hint", grader_cases(capacity, {
    "not transposed": (lambda A: capacity(A, transpose=False), "transposed blocks"),
    "both directions": (lambda A: capacity(A, both=True), "upwards only"),
    "diagonal": (lambda A: capacity(A, diagonal=True), "on the diagonal"),
    "no input row": (lambda A: capacity(A, with_input=False), "input nodes"),
    "reversed layers": (lambda A: capacity(A, reverse=True), "reverse order"),
    "raises": (lambda A: A[5], "raised"),
}))
def test_flow_capacity_grader(fn, hint):
    assert_verdict(checks.check_flow_capacity, fn, hint)


def uniform(pattern, *, mask=True, normalise=True, divisor="allowed", shape="full"):
    T = pattern.shape[-1]
    allowed = torch.ones(T, T, dtype=pattern.dtype).tril() if mask else torch.ones(T, T, dtype=pattern.dtype)
    if normalise:
        n = {"allowed": allowed.sum(-1, keepdim=True), "T": torch.full((T, 1), float(T), dtype=pattern.dtype),
             "i": torch.arange(T, dtype=pattern.dtype)[:, None].clamp_min(1)}[divisor]
        allowed = allowed / n
    return allowed if shape == "matrix" else allowed.expand_as(pattern).clone()


@pytest.mark.parametrize("fn, hint", grader_cases(uniform, {
    "no mask": (lambda p: uniform(p, mask=False), "causal mask"),
    "not normalised": (lambda p: uniform(p, normalise=False), "rows must sum to 1"),
    "divided by T": (lambda p: uniform(p, divisor="T"), "ALLOWED keys"),
    "off by one": (lambda p: uniform(p, divisor="i"), "off by one"),
    "matrix only": (lambda p: uniform(p, shape="matrix"), r"\(B, H, T, T\)"),
    "unchanged": (lambda p: p.clone(), "unchanged"),
}))
def test_uniform_attention_grader(fn, hint):
    assert_verdict(checks.check_uniform_attention, fn, hint)
