"""Lesson 17 (mechanistic tools): a logit difference, activation patching at one position, the
logit lens, and control-task labels for probes (Hewitt and Liang 2019)."""

import torch

from llmxai.device import generator, shift_seed
from llmxai.lesson_checks.common import _what, check_own_work, close, passed, run, tensor_of_shape


def _library(*names):
    from llmxai.explain import mech

    return tuple(getattr(mech, n) for n in names)


# ---- 1. the logit difference ----

def check_logit_diff(logit_diff, seed=0):
    """Check ``logit_diff(logits (B, T, V), correct (B,), wrong (B,)) -> (B,)``: at the last position,
    ``logits[b, -1, correct[b]] - logits[b, -1, wrong[b]]``."""
    check_own_work(logit_diff, forbidden=("logit_difference",), library=_library("logit_difference"),
                   exercise="logit_diff")
    g = generator(seed)
    B, T, V = 5, 4, 7
    logits = torch.randn(B, T, V, generator=g, dtype=torch.float64) * 2
    correct = torch.randint(V, (B,), generator=g)
    wrong = (correct + 1 + torch.randint(V - 1, (B,), generator=g)) % V  # never equal to correct
    got = run(logit_diff, logits.clone(), correct.clone(), wrong.clone())
    rows = torch.arange(B)

    def diff(z):  # z (B, V)
        return z[rows, correct] - z[rows, wrong]

    want = diff(logits[:, -1])
    if isinstance(got, torch.Tensor) and got.dim() == 0:
        raise AssertionError("a single number: return one difference per example, shape (B,), not their mean")
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (B, B):
        raise AssertionError("(B, B): logits[:, -1, correct] picks every correct id for every row; "
                             "pick one per row with logits[torch.arange(B), -1, correct]")
    tensor_of_shape(got, (B,), "one difference per example (B,)")
    if close(got, -want):
        raise AssertionError("wrong sign: the metric is logit[correct] - logit[wrong]")
    if close(got, diff(logits[:, 0])):
        raise AssertionError("that is the first position: the next token after the prefix is predicted at the "
                             "last position, logits[:, -1]")
    if close(got, diff(logits.mean(1))):
        raise AssertionError("averaged over positions: read the last position only, logits[:, -1]")
    if close(got, diff(logits[:, -1].softmax(-1))):
        raise AssertionError("that is a difference of probabilities: use the logits themselves (their difference "
                             "is the log-odds between the two tokens)")
    if not close(got, want):
        raise AssertionError("expected logits[b, -1, correct[b]] - logits[b, -1, wrong[b]] for each example b")
    return passed("logit_diff")


# ---- 2. activation patching at one position ----

def _tiny_gpt(seed):
    from llmxai.nn import GPT

    with torch.random.fork_rng():  # the grader leaves the learner's random state alone
        torch.manual_seed(shift_seed(seed))
        model = GPT(13, d_model=16, n_heads=2, n_layers=2, d_ff=32, max_len=8).double().eval()
        with torch.no_grad():  # larger weights than at initialisation, so every change shows in the logits
            for p in model.parameters():
                p.add_(0.3 * torch.randn_like(p))
    return model


def _patched(model, run_ids, source_ids, hook, position, how):
    from llmxai.hooks import hooks, run_with_cache

    with torch.no_grad():
        _, cache = run_with_cache(model, source_ids, names=[hook])
        A = cache[hook]

        def patch(a):
            a = a.clone()
            if how == "all":
                a[:] = A
            elif how == "zero":
                a[:, position] = 0
            elif how == "next":
                a[:, position + 1] = A[:, position + 1]
            else:
                a[:, position] = A[:, position]
            return a

        with hooks(model, {hook: patch}):
            return model(run_ids)


def check_patch_position(patch_position, seed=0):
    """Check ``patch_position(model, clean_ids, corrupt_ids, hook, position) -> logits (B, T, V)``: the
    corrupted run with the clean activation at ``hook`` put in at ``position`` only (denoising)."""
    check_own_work(patch_position, forbidden=("activation_patching",), library=_library("activation_patching"),
                   exercise="patch_position")
    model = _tiny_gpt(seed)
    g = generator(seed)
    B, T = 3, 6
    clean = torch.randint(1, 13, (B, T), generator=g)
    corrupt = (clean + 1 + torch.randint(11, (B, T), generator=g)) % 13  # differs at every position
    hook, position = "blocks.0.hook_resid_post", 2
    got = run(patch_position, model, clean.clone(), corrupt.clone(), hook, position)
    if isinstance(got, tuple):
        raise AssertionError("return the logits (B, T, V) only, not a tuple")
    tensor_of_shape(got, (B, T, 13), "the logits of the patched run (B, T, V)")
    with torch.no_grad():
        clean_logits, corrupt_logits = model(clean), model(corrupt)
    if close(got, corrupt_logits):
        raise AssertionError("nothing was patched: replace the activation at the hook with the clean run's "
                             "(return the new tensor from the hook function)")
    if close(got, clean_logits) or close(got, _patched(model, corrupt, clean, hook, position, "all")):
        raise AssertionError("every position was patched: copy the clean activation at `position` only, "
                             "a[:, position] = clean[:, position]")
    if close(got, _patched(model, clean, corrupt, hook, position, "one")):
        raise AssertionError("wrong direction: run the CORRUPTED input and put the CLEAN activation in "
                             "(denoising), not the other way round")
    if close(got, _patched(model, corrupt, clean, hook, position, "zero")):
        raise AssertionError("that sets the activation to zero (an ablation): put in the clean run's value")
    if close(got, _patched(model, corrupt, clean, hook, position, "next")):
        raise AssertionError("off by one: the residual stream is (B, T, d_model); patch index `position` of axis 1")
    if not close(got, _patched(model, corrupt, clean, hook, position, "one"), tol=1e-8):
        raise AssertionError("the logits differ from the corrupted run with the clean activation patched in at "
                             "`position`: cache the clean run, then rerun the corrupted ids with a hook")
    return passed("patch_position")


# ---- 3. the logit lens ----

def _lens(model, ids, *, norm=True, hooks=None, softmax=False):
    from llmxai.hooks import run_with_cache

    L = len(model.blocks)
    names = hooks or (["blocks.0.hook_resid_pre"] + [f"blocks.{i}.hook_resid_post" for i in range(L)])
    with torch.no_grad():
        _, cache = run_with_cache(model, ids, names=names)
        out = torch.stack([model.unembed(model.ln_f(cache[n]) if norm else cache[n]) for n in names])
    return out.softmax(-1) if softmax else out


def check_logit_lens(logit_lens, seed=0):
    """Check ``logit_lens(model, ids) -> (n_layers + 1, B, T, V)``: ``unembed(ln_f(h))`` for the embeddings
    (``blocks.0.hook_resid_pre``) and every block's output (``blocks.{i}.hook_resid_post``)."""
    check_own_work(logit_lens, forbidden=("logit_lens",), library=_library("logit_lens"), exercise="logit_lens")
    model = _tiny_gpt(seed)
    g = generator(seed)
    B, T, L = 2, 5, len(model.blocks)
    ids = torch.randint(1, 13, (B, T), generator=g)
    got = run(logit_lens, model, ids.clone())
    if isinstance(got, (list, tuple)) and got and all(isinstance(t, torch.Tensor) for t in got):
        try:
            got = torch.stack(list(got))
        except RuntimeError:
            raise AssertionError("return one tensor (n_layers + 1, B, T, V): stack the decoded layers") from None
    if isinstance(got, torch.Tensor) and got.dim() == 4 and got.shape[0] == L and tuple(got.shape[1:]) == (B, T, 13):
        raise AssertionError(f"{L} layers: include the embeddings (blocks.0.hook_resid_pre) as well as every block's "
                             f"output, n_layers + 1 = {L + 1} decodings")
    tensor_of_shape(got, (L + 1, B, T, 13), "the decoded streams (n_layers + 1, B, T, V)")
    if close(got, _lens(model, ids, norm=False)):
        raise AssertionError("the final norm is missing: the model applies ln_f before unembed, so must the lens")
    if close(got, _lens(model, ids, softmax=True)):
        raise AssertionError("those are probabilities: return the logits, unembed(ln_f(h))")
    mid = ["blocks.0.hook_resid_pre"] + [f"blocks.{i}.hook_resid_mid" for i in range(L)]
    if close(got, _lens(model, ids, hooks=mid)):
        raise AssertionError("hook_resid_mid is the stream halfway through a block (after attention, before the MLP): "
                             "decode each block's output, hook_resid_post")
    with torch.no_grad():
        final = model(ids)
    if not close(got[-1], final, tol=1e-8):
        raise AssertionError("the last decoding must equal the model's own logits: decode blocks.{L-1}.hook_resid_post "
                             "with model.ln_f and model.unembed")
    if not close(got, _lens(model, ids), tol=1e-8):
        raise AssertionError("expected unembed(ln_f(h)) of blocks.0.hook_resid_pre, then of each block's "
                             "hook_resid_post, in order")
    return passed("logit_lens")


# ---- 4. control-task labels ----

def check_control_labels(control_labels, seed=0):
    """Check ``control_labels(tokens (N,), labels (N,), seed) -> (N,)``: one random label per word type,
    drawn from the empirical distribution of ``labels``, reproducible from ``seed`` (Hewitt and Liang 2019)."""
    check_own_work(control_labels, forbidden=("control_task",), library=_library("control_task"),
                   exercise="control_labels")
    g = generator(seed)
    n_types, N = 240, 960
    tokens = torch.cat([torch.arange(n_types), torch.randint(n_types, (N - n_types,), generator=g)])
    tokens = tokens[torch.randperm(N, generator=g)] + 3  # every type occurs; ids need not start at 0
    type_class = torch.multinomial(torch.tensor([0.7, 0.2, 0.1]), n_types + 3, replacement=True, generator=g)
    labels = type_class[tokens]  # the real property: a function of the word type, 70/20/10 per cent
    got = run(control_labels, tokens.clone(), labels.clone(), 0)
    if not isinstance(got, torch.Tensor) or tuple(got.shape) != (N,) or got.is_floating_point() or got.is_complex():
        raise AssertionError(f"return one integer label per example, shape ({N},), got {_what(got)}")
    if close(got, labels):
        raise AssertionError("those are the real labels: the control task gives each word type a RANDOM label")
    if bool((got < 0).any()) or bool((got > 2).any()):
        raise AssertionError("labels outside the classes of `labels`: draw each type's label from the classes "
                             "0 .. C - 1 that occur in `labels`")
    types = tokens.unique()
    per_type = [got[tokens == t].unique().numel() for t in types]
    if max(per_type) > 1:
        raise AssertionError("one word type got different labels: draw ONE label per word type (tokens.unique()) "
                             "and give it to every occurrence of that word")
    type_labels = torch.stack([got[tokens == t][0] for t in types])
    if type_labels.unique().numel() == 1:
        raise AssertionError("every word got the same label: draw a random label for each word type")
    share = type_labels.bincount(minlength=3).double() / len(types)
    if share[0] < 0.55:  # 0.7 expected; 240 types give a standard deviation below 0.03
        raise AssertionError("the labels' frequencies are lost: draw each type's label from the distribution of "
                             "`labels` (torch.bincount(labels) / N), not uniformly over the classes")
    again = run(control_labels, tokens.clone(), labels.clone(), 0)
    if not (isinstance(again, torch.Tensor) and torch.equal(again, got)):
        raise AssertionError("not reproducible: the same seed must give the same labels (use a generator seeded "
                             "with `seed`, e.g. llmxai.generator(seed))")
    others = [run(control_labels, tokens.clone(), labels.clone(), s) for s in (1, 2)]
    if all(isinstance(o, torch.Tensor) and torch.equal(o, got) for o in others):
        raise AssertionError("the seed is ignored: other seeds must give other random labels")
    return passed("control_labels")
