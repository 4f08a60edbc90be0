"""Lesson 17's graders pass a correct answer, name each common mistake, and refuse the library's functions."""

import pytest
import torch

from llmxai import checks, generator
from llmxai.explain import mech
from llmxai.hooks import hooks, run_with_cache

from test_lesson_checks import assert_verdict, grader_cases


# ---- logit_diff ----

def ld(logits, correct, wrong, *, where="last", sign=1.0, probs=False):
    z = {"last": logits[:, -1], "first": logits[:, 0], "mean": logits.mean(1)}[where]
    z = z.softmax(-1) if probs else z
    rows = torch.arange(z.shape[0])
    return sign * (z[rows, correct] - z[rows, wrong])


@pytest.mark.parametrize("fn, hint", grader_cases(ld, {
    "sign": (lambda z, c, w: ld(z, c, w, sign=-1.0), "wrong sign"),
    "first": (lambda z, c, w: ld(z, c, w, where="first"), "first position"),
    "mean": (lambda z, c, w: ld(z, c, w, where="mean"), "averaged over positions"),
    "probs": (lambda z, c, w: ld(z, c, w, probs=True), "probabilities"),
    "batch mean": (lambda z, c, w: ld(z, c, w).mean(), "single number"),
    "every row": (lambda z, c, w: z[:, -1, c] - z[:, -1, w], r"\(B, B\)"),
    "library": (mech.logit_difference, "library"),
    "library inside": (lambda z, c, w: mech.logit_difference(z, c, w), "ready-made"),
}))
def test_logit_diff_grader(fn, hint):
    assert_verdict(checks.check_logit_diff, fn, hint)


# ---- patch_position ----

def patch(model, clean_ids, corrupt_ids, hook, position, *, how="one", direction="denoising"):
    source, target = (clean_ids, corrupt_ids) if direction == "denoising" else (corrupt_ids, clean_ids)
    with torch.no_grad():
        _, cache = run_with_cache(model, source, names=[hook])
        A = cache[hook]

        def fn(a):
            a = a.clone()
            if how == "one":
                a[:, position] = A[:, position]
            elif how == "all":
                a = A.clone()
            elif how == "zero":
                a[:, position] = 0
            elif how == "next":
                a[:, position + 1] = A[:, position + 1]
            return a if how != "none" else None

        with hooks(model, {hook: fn}):
            return model(target)


@pytest.mark.parametrize("fn, hint", grader_cases(patch, {
    "noising": (lambda *a: patch(*a, direction="noising"), "wrong direction"),
    "all positions": (lambda *a: patch(*a, how="all"), "every position"),
    "zero": (lambda *a: patch(*a, how="zero"), "ablation"),
    "off by one": (lambda *a: patch(*a, how="next"), "off by one"),
    "nothing": (lambda *a: patch(*a, how="none"), "nothing was patched"),
    "library inside": (lambda m, c, k, h, p: mech.activation_patching(m, c, k, lambda z: z.sum(), [h]), "ready-made"),
}))
def test_patch_position_grader(fn, hint):
    assert_verdict(checks.check_patch_position, fn, hint)


# ---- logit_lens ----

def lens(model, ids, *, norm=True, embeddings=True, mid=False, softmax=False):
    L = len(model.blocks)
    names = (["blocks.0.hook_resid_pre"] if embeddings else []) + \
        [f"blocks.{i}.hook_resid_{'mid' if mid else 'post'}" for i in range(L)]
    with torch.no_grad():
        _, cache = run_with_cache(model, ids, names=names)
        out = torch.stack([model.unembed(model.ln_f(cache[n]) if norm else cache[n]) for n in names])
    return out.softmax(-1) if softmax else out


@pytest.mark.parametrize("fn, hint", grader_cases(lens, {
    "no norm": (lambda m, i: lens(m, i, norm=False), "final norm"),
    "no embeddings": (lambda m, i: lens(m, i, embeddings=False), "include the embeddings"),
    "resid_mid": (lambda m, i: lens(m, i, mid=True), "hook_resid_mid"),
    "softmax": (lambda m, i: lens(m, i, softmax=True), "probabilities"),
    "list": (lambda m, i: list(lens(m, i)), None),
    "library": (mech.logit_lens, "library"),
    "library inside": (lambda m, i: mech.logit_lens(m, i), "ready-made"),
}))
def test_logit_lens_grader(fn, hint):
    assert_verdict(checks.check_logit_lens, fn, hint)


# ---- control_labels ----

def control(tokens, labels, seed, *, per="type", dist="empirical", use_seed=True):
    g = generator(seed if use_seed else 0)
    types, inverse = tokens.unique(return_inverse=True)
    p = torch.bincount(labels).double() if dist == "empirical" else torch.ones(int(labels.max()) + 1)
    n = types.numel() if per == "type" else tokens.numel()
    if dist == "range":
        drawn = torch.randint(types.numel(), (n,), generator=g)
    else:
        drawn = torch.multinomial(p / p.sum(), n, replacement=True, generator=g)
    return drawn[inverse] if per == "type" else drawn


@pytest.mark.parametrize("fn, hint", grader_cases(control, {
    "per example": (lambda t, y, s: control(t, y, s, per="example"), "ONE label per word type"),
    "uniform": (lambda t, y, s: control(t, y, s, dist="uniform"), "frequencies"),
    "out of range": (lambda t, y, s: control(t, y, s, dist="range"), "outside the classes"),
    "real labels": (lambda t, y, s: y.clone(), "real labels"),
    "constant": (lambda t, y, s: torch.zeros_like(y), "same label"),
    "no seed": (lambda t, y, s: control(t, y, s, use_seed=False), "seed is ignored"),
    "unseeded": (lambda t, y, s: control(t, y, int(torch.randint(10**6, (1,)))), "reproducible"),
    "library": (mech.control_task, "library"),
    "library inside": (lambda t, y, s: mech.control_task(t, y, seed=s), "ready-made"),
}))
def test_control_labels_grader(fn, hint):
    assert_verdict(checks.check_control_labels, fn, hint)


def test_graders_leave_the_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    checks.check_patch_position(patch)
    checks.check_logit_lens(lens)
    assert torch.equal(torch.rand(3), expected)
