"""Lesson 20's graders (llmxai.lesson_checks.real_model) pass a correct answer and name each common mistake."""


import pytest
import torch
import torch.nn.functional as F

from llmxai import checks
from llmxai.lesson_checks.real_model import _gqa as gqa
from llmxai.nn.llama import GroupedQueryAttention, RMSNorm, apply_rotary
from test_lesson_checks import assert_verdict, grader_cases


def rms(x, w, eps, *, centre=False, eps_outside=False, total=False, affine=True, axis=-1):
    x = x - x.mean(-1, keepdim=True) if centre else x
    ms = x.pow(2).sum(-1, keepdim=True) if total else x.pow(2).mean(axis, keepdim=True)
    y = x / (ms.sqrt() + eps if eps_outside else (ms + eps).sqrt())
    return y * w if affine else y


@pytest.mark.parametrize("fn, hint", grader_cases(rms, {
    "layer norm": (lambda x, w, e: rms(x, w, e, centre=True), "LayerNorm"),
    "eps outside": (lambda x, w, e: rms(x, w, e, eps_outside=True), "inside the square root"),
    "sum": (lambda x, w, e: rms(x, w, e, total=True), "MEAN"),
    "no weight": (lambda x, w, e: rms(x, w, e, affine=False), "weight"),
    "raises": (lambda x, w, e: x.no_such_method(), "(?i)error|raised"),
    "torch": (lambda x, w, e: F.rms_norm(x, (x.shape[-1],), w, e), "ready-made"),
    "library": (RMSNorm, "library"),
}))
def test_rms_norm_grader(fn, hint):
    assert_verdict(checks.check_rms_norm, fn, hint)


def rope(x, base, *, halves=False, sign=1.0, exponent=2.0, start=0):
    T, d = x.shape[-2], x.shape[-1]
    theta = base ** (-exponent * torch.arange(d // 2, dtype=x.dtype) / d)
    angle = sign * (torch.arange(T, dtype=x.dtype)[:, None] + start) * theta
    cos, sin = angle.cos(), angle.sin()
    if halves:
        a, b = x[..., : d // 2], x[..., d // 2:]
        return torch.cat([a * cos - b * sin, a * sin + b * cos], -1)
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack([a * cos - b * sin, a * sin + b * cos], -1).flatten(-2)


@pytest.mark.parametrize("fn, hint", grader_cases(rope, {
    "halves": (lambda x, b: rope(x, b, halves=True), "neighbours"),
    "sign": (lambda x, b: rope(x, b, sign=-1.0), "wrong way"),
    "exponent": (lambda x, b: rope(x, b, exponent=1.0), "factor 2"),
    "from one": (lambda x, b: rope(x, b, start=1), "count from 0"),
    "identity": (lambda x, b: x.clone(), "nothing was rotated"),
    "library": (lambda x, b: apply_rotary(x, *__import__("llmxai.nn.llama", fromlist=["rotary_angles"])
                                          .rotary_angles(x.shape[1], x.shape[2], b, dtype=x.dtype)), "ready-made"),
}))
def test_rope_grader(fn, hint):
    assert_verdict(checks.check_rope, fn, hint)


@pytest.mark.parametrize("fn, hint", grader_cases(gqa, {
    "repeat": (lambda q, k, v: gqa(q, k, v, interleave=False), "repeat_interleave"),
    "no mask": (lambda q, k, v: gqa(q, k, v, causal=False), "causal"),
    "no scale": (lambda q, k, v: gqa(q, k, v, scale=False), "sqrt"),
    "torch": (lambda q, k, v: F.scaled_dot_product_attention(q, k.repeat_interleave(3, 1), v.repeat_interleave(3, 1),
                                                             is_causal=True), "ready-made"),
    "library": (GroupedQueryAttention, "library"),
}))
def test_grouped_query_attention_grader(fn, hint):
    assert_verdict(checks.check_grouped_query_attention, fn, hint)


def prev_head(P, *, back=1, swap=False, flat=False):
    T = P.shape[-1]
    t = torch.arange(back, T)
    scores = P[:, :, t, t - back].mean(-1)  # (L, H)
    i = int(scores.flatten().argmax())
    if flat:
        return i
    layer, head = divmod(i, P.shape[1])
    return (head, layer) if swap else (layer, head)


@pytest.mark.parametrize("fn, hint", grader_cases(prev_head, {
    "diagonal": (lambda P: prev_head(P, back=0), "itself"),
    "two back": (lambda P: prev_head(P, back=2), "two tokens back"),
    "flat": (lambda P: prev_head(P, flat=True), "not one flat index"),
    "library": (lambda P: __import__("llmxai.explain", fromlist=["x"]).previous_token_head_scores(None), "ready-made"),
}))
def test_previous_token_head_grader(fn, hint):
    assert_verdict(checks.check_previous_token_head, fn, hint, seeds=(0, 3, 5))


def test_swapped_pair_is_named():
    from llmxai.lesson_checks import real_model
    for seed in range(12):  # a seed whose planted head has layer != head and a valid swap
        g = real_model.generator(seed)
        layer, head = int(torch.randint(4, (1,), generator=g)), int(torch.randint(3, (1,), generator=g))
        if layer != head and layer < 3:
            with pytest.raises(AssertionError, match="swapped"):
                checks.check_previous_token_head(lambda P: prev_head(P, swap=True), seed=seed)
            return
    pytest.fail("no seed with a swappable planted head")
