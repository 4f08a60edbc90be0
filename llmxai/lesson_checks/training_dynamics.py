"""Lesson 8 (watching a model train): the previous-token and induction scores of one head's attention
pattern on a repeated random sequence, and the loss ratio that shows in-context copying."""

import torch

from llmxai.device import generator
from llmxai.data.induction import half_losses
from llmxai.explain.mech import induction_head_scores, previous_token_head_scores
from llmxai.lesson_checks.common import _what, check_own_work, close, passed, run

_READY = ("induction_head_scores", "previous_token_head_scores", "head_scores", "half_losses", "induction_masks",
          "segment_masks", "cross_entropy", "nll_loss", "CrossEntropyLoss")


def _number(got, what):
    if isinstance(got, torch.Tensor) and got.numel() != 1:
        raise AssertionError(f"{what}: expected one number (a mean), got {_what(got)}")
    try:
        return torch.as_tensor(float(got), dtype=torch.float64)
    except (TypeError, ValueError):
        raise AssertionError(f"{what}: expected one number, got {_what(got)}") from None


def _patterns(B, T, g):
    """Random causal attention patterns (B, T, T): rows are distributions over the keys 0..t."""
    scores = torch.randn(B, T, T, generator=g, dtype=torch.float64) * 1.5
    scores = scores.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
    return torch.softmax(scores, dim=-1)


def check_previous_token_score(previous_token_score, seed=0):
    """Check ``previous_token_score(pattern (B, T, T)) -> float``: mean attention from each position
    ``t >= 1`` to ``t - 1``, over the batch and those positions."""
    check_own_work(previous_token_score, forbidden=_READY, library=(previous_token_head_scores,),
                   exercise="previous_token_score")
    g = generator(seed)
    B, T = 3, 9
    P = _patterns(B, T, g)
    value = _number(run(previous_token_score, P.clone()), "previous_token_score")
    t = torch.arange(1, T)
    want = P[:, t, t - 1].mean()
    if close(value, P.diagonal(dim1=1, dim2=2).mean()) or close(value, P[:, t, t].mean()):
        raise AssertionError("that is the attention to the token itself (the diagonal): take pattern[:, t, t - 1]")
    if close(value, torch.zeros((), dtype=torch.float64)):
        raise AssertionError("zero: under a causal mask no position attends to t + 1; take the key BEFORE the query, "
                             "pattern[:, t, t - 1]")
    all_t = torch.arange(T)
    if close(value, P[:, all_t, all_t - 1].mean()):
        raise AssertionError("position 0 has no previous token (index -1 wraps round to the last key): start at t = 1")
    if close(value, P[:, t, t - 1].amax()) or close(value, P[:, t, t - 1].mean(0).amax()):
        raise AssertionError("you took a maximum: the score is the MEAN over queries and sequences")
    if close(value, P[:, t, t - 1].sum() / B) or close(value, P[:, t, t - 1].sum()):
        raise AssertionError("you summed over positions: average over every query t >= 1 and every sequence")
    if not close(value, want):
        raise AssertionError("expected the mean of pattern[b, t, t - 1] over b and t = 1 .. T - 1")
    return passed("previous_token_score")


def check_induction_score(induction_score, seed=0):
    """Check ``induction_score(pattern (B, T, T), L) -> float`` for rows ``[BOS, x_1 .. x_L, x_1 .. x_L]``
    (``T = 2L + 1``): mean attention from each query of the second copy (positions ``L + 1 .. 2L``) to the
    position after the query's first occurrence (``q - L + 1``)."""
    check_own_work(induction_score, forbidden=_READY, library=(induction_head_scores,), exercise="induction_score")
    g = generator(seed)
    B, L = 3, 6
    T = 2 * L + 1
    P = _patterns(B, T, g)
    value = _number(run(induction_score, P.clone(), L), "induction_score")
    q = torch.arange(L + 1, 2 * L + 1)  # the second copy
    want = P[:, q, q - L + 1].mean()
    if close(value, P[:, q, q - L].mean()):
        raise AssertionError("that key is the earlier occurrence of the same token (a duplicate-token head): an "
                             "induction head attends to the token AFTER it, q - L + 1, whose value it copies")
    if close(value, P[:, q, q - 1].mean()):
        raise AssertionError("that is the previous-token score: the induction key is q - L + 1, one past the "
                             "earlier copy of the current token")
    q0 = torch.arange(L, 2 * L)  # forgot the BOS offset
    if close(value, P[:, q0, q0 - L + 1].mean()) or close(value, P[:, q0 + 1, q0 - L + 1].mean()):
        raise AssertionError("off by one: with BOS at position 0, the first copy is at 1 .. L and the second at "
                             "L + 1 .. 2L; the query at q reads the key at q - L + 1")
    allq = torch.arange(L, T)
    if close(value, P[:, allq, allq - L + 1].mean()):
        raise AssertionError("the query at position L is the last token of the FIRST copy: queries are L + 1 .. 2L")
    if close(value, P[:, q, q - L + 1].amax()) or close(value, P[:, q, q - L + 1].mean(0).amax()):
        raise AssertionError("you took a maximum: the score is the MEAN over queries and sequences")
    if not close(value, want):
        raise AssertionError("expected the mean of pattern[b, q, q - L + 1] over b and q = L + 1 .. 2L")
    return passed("induction_score")


def _ratio(logits, ids, L, *, shift=1, with_x1=False, with_first=False, how="ratio"):
    logp = logits - logits.logsumexp(-1, keepdim=True)  # (B, T, V)
    T = ids.shape[1]
    if shift:
        nll = -logp[:, :-1].gather(-1, ids[:, 1:, None])[..., 0]  # (B, T - 1): prediction t scored on t + 1
    else:
        nll = -logp.gather(-1, ids[..., None])[..., 0]
    t = torch.arange(nll.shape[1])
    first = (t >= (0 if with_first else 1)) & (t <= L - 1)
    repeated = (t >= (L if with_x1 else L + 1)) & (t <= T - 2)
    a, b = nll[:, repeated].mean(), nll[:, first].mean()
    return {"ratio": a / b, "inverse": b / a, "difference": a - b}[how]


def check_repeat_loss_ratio(repeat_loss_ratio, seed=0):
    """Check ``repeat_loss_ratio(logits (B, T, V), ids (B, T), L) -> float`` for rows
    ``[BOS, x_1 .. x_L, x_1 .. x_L]``: the mean next-token loss on ``x_2 .. x_L`` of the second copy
    divided by that on ``x_2 .. x_L`` of the first copy."""
    check_own_work(repeat_loss_ratio, forbidden=_READY, library=(half_losses,), exercise="repeat_loss_ratio")
    g = generator(seed)
    B, L, V = 4, 5, 11
    T = 2 * L + 1
    x = torch.stack([torch.randperm(V - 1, generator=g)[:L] + 1 for _ in range(B)])
    ids = torch.cat([torch.zeros(B, 1, dtype=torch.long), x, x], 1)
    logits = torch.randn(B, T, V, generator=g, dtype=torch.float64) * 2
    value = _number(run(repeat_loss_ratio, logits.clone(), ids.clone(), L), "repeat_loss_ratio")
    hints = [
        (dict(shift=0), "not shifted: the logits at position t predict the token at t + 1"),
        (dict(how="inverse"), "upside down: divide the loss on the REPEATED copy by the loss on the first copy "
                              "(small means the model copies)"),
        (dict(how="difference"), "that is a difference: the score is the ratio repeated / first"),
        (dict(with_x1=True), "the second x_1 follows x_L and cannot be predicted from the first copy: score only "
                             "x_2 .. x_L of the second copy (predictions at positions L + 1 .. 2L - 1)"),
        (dict(with_first=True), "x_1 follows BOS and is a guess in both copies: score x_2 .. x_L of the first copy "
                                "(predictions at positions 1 .. L - 1)"),
        (dict(with_x1=True, with_first=True), "leave out the predictions of both copies of x_1: score x_2 .. x_L"),
    ]
    for switches, hint in hints:
        if close(value, _ratio(logits, ids, L, **switches)):
            raise AssertionError(hint)
    if not close(value, _ratio(logits, ids, L)):
        raise AssertionError("expected mean loss on x_2 .. x_L of the second copy over that of the first copy, with "
                             "-log softmax(logits[:, t])[ids[:, t + 1]] as the loss of prediction t")
    return passed("repeat_loss_ratio")
