"""Lesson 7's graders pass a correct answer, name each common mistake, and refuse the library's code."""

import pytest
import torch.nn.functional as F

from llmxai import checks
from llmxai.nn import LayerNorm, TransformerBlock
from test_lesson_checks import assert_verdict, grader_cases


def ln(x, w, b, eps, *, unbiased=False, dim=-1, outside=False, affine=True, by_var=False):
    mu = x.mean(dim, keepdim=True)
    var = x.var(dim, keepdim=True, unbiased=unbiased)
    y = (x - mu) / (var + eps if by_var else (var.sqrt() + eps if outside else (var + eps).sqrt()))
    return y * w + b if affine else y


@pytest.mark.parametrize("fn, hint", grader_cases(ln, {
    "unbiased": (lambda *a: ln(*a, unbiased=True), "d - 1"),
    "tokens": (lambda *a: ln(*a, dim=1), "wrong axis"),
    "batch": (lambda *a: ln(*a, dim=0), "batch norm"),
    "eps outside": (lambda *a: ln(*a, outside=True), "inside the square root"),
    "no affine": (lambda *a: ln(*a, affine=False), "weight and bias"),
    "by variance": (lambda *a: ln(*a, by_var=True), "standard deviation"),
    "fixed eps": (lambda x, w, b, eps: ln(x, w, b, 1e-5), "eps you are given"),
    "no eps": (lambda x, w, b, eps: (x - x.mean(-1, keepdim=True)) / x.std(-1, keepdim=True, unbiased=False) * w + b,
               "values differ|eps"),
    "torch": (lambda x, w, b, eps: F.layer_norm(x, x.shape[-1:], w, b, eps), "ready-made"),
    "library": (LayerNorm, "library"),
}))
def test_layer_norm_grader(fn, hint):
    assert_verdict(checks.check_layer_norm, fn, hint)


def block(x, attn, mlp, ln1, ln2, kind="pre"):
    from llmxai.lesson_checks.transformer import _block

    return _block(x, attn, mlp, ln1, ln2, kind)


@pytest.mark.parametrize("fn, hint", grader_cases(block, {
    "post": (lambda *a: block(*a, kind="post"), "post-LN"),
    "parallel": (lambda *a: block(*a, kind="parallel"), "MLP reads x"),
    "no residual": (lambda *a: block(*a, kind="no residual"), "residual connections are missing"),
    "normed residual": (lambda *a: block(*a, kind="normed residual"), "normalised vector"),
    "one norm": (lambda *a: block(*a, kind="one norm"), "ln1 used twice"),
    "no mlp residual": (lambda *a: block(*a, kind="no mlp residual"), "second residual"),
    "pair": (lambda *a: (block(*a), None), "one tensor"),
    "library": (TransformerBlock, "library"),
}))
def test_pre_norm_block_grader(fn, hint):
    assert_verdict(checks.check_pre_norm_block, fn, hint)


def lm_loss(logits, ids, *, shift=1, reduce="mean", sign=1.0):
    lp = logits - logits.logsumexp(-1, keepdim=True)
    lp, y = {1: (lp[:, :-1], ids[:, 1:]), 0: (lp, ids), -1: (lp[:, 1:], ids[:, :-1])}[shift]
    nll = -lp.gather(-1, y[..., None])[..., 0]
    return sign * {"mean": nll.mean(), "sum": nll.sum(), "rows": nll.sum(1).mean(), "none": nll}[reduce]


@pytest.mark.parametrize("fn, hint", grader_cases(lm_loss, {
    "unshifted": (lambda *a: lm_loss(*a, shift=0), "not shifted"),
    "wrong way": (lambda *a: lm_loss(*a, shift=-1), "wrong way"),
    "sum": (lambda *a: lm_loss(*a, reduce="sum"), "you summed: return the MEAN"),
    "rows": (lambda *a: lm_loss(*a, reduce="rows"), "summed over positions"),
    "per token": (lambda *a: lm_loss(*a, reduce="none"), "one number"),
    "sign": (lambda *a: lm_loss(*a, sign=-1.0), "sign"),
    "raw logit": (lambda z, y: -z[:, :-1].gather(-1, y[:, 1:, None]).mean(), "raw logit"),
    "float": (lambda *a: lm_loss(*a).item(), None),
    "torch": (lambda z, y: F.cross_entropy(z[:, :-1].reshape(-1, z.shape[-1]), y[:, 1:].reshape(-1)), "ready-made"),
}))
def test_causal_lm_loss_grader(fn, hint):
    assert_verdict(checks.check_causal_lm_loss, fn, hint)
