"""Repeated random token sequences, the task on which induction heads form.

Each row is ``[BOS, x_1 .. x_L, x_1 .. x_L]`` with random tokens ``x``. The first half
cannot be predicted; in the second half, a model that finds the earlier occurrence of the
current token and copies the token after it (an induction head; Olsson et al. 2022,
arXiv:2209.11895) predicts every token from ``x_2`` on. With this fixed layout, though, a
head that looks ``L - 1`` places back predicts as well; :func:`repeated_segments` varies
``L`` and where the copies sit, so that only the content says where the earlier copy is.
"""

import torch
import torch.nn.functional as F

from llmxai import validate
from llmxai.device import generator

BOS_ID = 0


def repeated_tokens(batch_size, seq_len, vocab_size, *, seed=0, bos=True, distinct=True):
    """Ids ``(batch_size, bos + 2 * seq_len)`` of random sequences repeated once.

    Tokens are drawn from ``1 .. vocab_size - 1`` (id 0 is BOS). With ``distinct`` no token
    repeats inside ``x``, so each token of the second half has exactly one earlier
    occurrence to copy from; without it, tokens are drawn independently.
    """
    validate.positive_int(batch_size, "batch_size")
    validate.positive_int(seq_len, "seq_len", minimum=2)
    validate.positive_int(vocab_size, "vocab_size", minimum=3)
    validate.seed(seed)
    validate.flag(bos, "bos")
    validate.flag(distinct, "distinct")
    n_tokens = vocab_size - 1
    if distinct and seq_len > n_tokens:
        raise ValueError(
            f"seq_len: expected at most vocab_size - 1 = {n_tokens} for distinct tokens, got {seq_len}"
        )
    g = generator(seed)
    if distinct:
        x = torch.rand(batch_size, n_tokens, generator=g).argsort(dim=1)[:, :seq_len] + 1  # (B, L)
    else:
        x = torch.randint(1, vocab_size, (batch_size, seq_len), generator=g)  # (B, L)
    parts = [torch.full((batch_size, 1), BOS_ID, dtype=torch.long)] if bos else []
    return torch.cat(parts + [x, x], dim=1)  # (B, bos + 2L)


def next_token_batch(ids):
    """``(inputs, targets)`` for next-token prediction: ``ids[:, :-1]`` and ``ids[:, 1:]``."""
    validate.tensor(ids, "ids", ndim=2, floating=False)
    if ids.shape[1] < 2:
        raise ValueError(f"ids: expected at least 2 tokens per row to predict a next one, got {tuple(ids.shape)}")
    return ids[:, :-1], ids[:, 1:]


def induction_masks(seq_len, *, bos=True):
    """Boolean masks over the ``bos + 2L - 1`` next-token predictions of one row.

    ``first``: predictions of ``x_2 .. x_L`` in the first half (guesses at random tokens);
    ``repeated``: predictions of ``x_2 .. x_L`` in the second half (copyable). Prediction
    ``t`` reads the prefix up to position ``t`` and is scored against token ``t + 1``.
    The prediction of the second ``x_1`` belongs to neither: it is random too, but follows
    ``x_L`` rather than a token of the first half's interior.
    """
    validate.positive_int(seq_len, "seq_len", minimum=2)
    b = int(validate.flag(bos, "bos"))
    n = b + 2 * seq_len - 1
    target = torch.arange(1, n + 1)  # position of the token each prediction is scored against
    first = (target >= b + 1) & (target <= b + seq_len - 1)
    repeated = target >= b + seq_len + 1
    return first, repeated


def repeated_segments(batch_size, seq_len, vocab_size, *, min_repeat, max_repeat, seed=0, skip_bigram=0.0):
    """Rows of ``seq_len`` random tokens, each holding one segment repeated once at a random place.

    Returns ``(ids, starts, lengths)``: ids ``(batch_size, seq_len)`` with BOS (id 0) first,
    and per row the repeat length ``L`` (uniform in ``min_repeat .. max_repeat``) and the
    start ``s`` (uniform in ``1 .. seq_len - 2L``) of ``x``, so that
    ``ids[s:s+L] == ids[s+L:s+2L] == x`` with distinct tokens in ``x``; every other position
    is an independent random token from ``1 .. vocab_size - 1``. Since both ``L`` and ``s``
    vary, absolute or fixed relative positions cannot say where the earlier copy is: only
    its content can, which is the job of the two-layer induction circuit (Olsson et al.
    2022, arXiv:2209.11895).

    ``skip_bigram`` is the probability that a filler token follows a fixed rule instead,
    ``ids[t] = pi(ids[t - 2])`` for a permutation ``pi`` of the tokens (the same for every
    seed), unless ``ids[t - 2]`` itself followed it. Such a dependency, like many in real
    text, rewards a head that looks one token back from the current one, so a
    previous-token head forms early; the induction circuit is built on one. The segment
    and its copy never follow the rule.
    """
    validate.positive_int(batch_size, "batch_size")
    validate.positive_int(vocab_size, "vocab_size", minimum=3)
    validate.positive_int(min_repeat, "min_repeat", minimum=2)
    validate.positive_int(max_repeat, "max_repeat", minimum=min_repeat)
    validate.positive_int(seq_len, "seq_len", minimum=1 + 2 * max_repeat)
    validate.seed(seed)
    if isinstance(skip_bigram, bool) or not isinstance(skip_bigram, (int, float)) or not 0 <= skip_bigram <= 1:
        raise ValueError(f"skip_bigram: expected a probability in [0, 1], got {skip_bigram!r}")
    if max_repeat > vocab_size - 1:
        raise ValueError(
            f"max_repeat: expected at most vocab_size - 1 = {vocab_size - 1} for distinct tokens, got {max_repeat}"
        )
    g = generator(seed)
    ids = torch.randint(1, vocab_size, (batch_size, seq_len), generator=g)  # (B, T)
    ids[:, 0] = BOS_ID
    if skip_bigram > 0:
        pi = torch.randperm(vocab_size - 1, generator=generator(0)) + 1  # (V - 1,)
        follow = torch.rand(batch_size, seq_len, generator=g) < skip_bigram  # (B, T)
        follow[:, :3] = False
        for t in range(3, seq_len):
            # No chains: a token two after a ruled one stays random, else pi(pi(.)) would tie
            # tokens four apart and reward heads that look three back.
            follow[:, t] &= ~follow[:, t - 2]
            ids[:, t] = torch.where(follow[:, t], pi[ids[:, t - 2] - 1], ids[:, t])
    lengths = torch.randint(min_repeat, max_repeat + 1, (batch_size,), generator=g)  # (B,)
    starts = 1 + (torch.rand(batch_size, generator=g) * (seq_len - 2 * lengths)).long()  # (B,) in 1 .. T - 2L
    x = torch.rand(batch_size, vocab_size - 1, generator=g).argsort(dim=1) + 1  # (B, V - 1): distinct tokens
    for i, (s, L) in enumerate(zip(starts.tolist(), lengths.tolist())):
        ids[i, s:s + L] = x[i, :L]
        ids[i, s + L:s + 2 * L] = x[i, :L]
    return ids, starts, lengths


def segment_masks(starts, lengths, seq_len):
    """Boolean masks ``(B, seq_len - 1)`` over the next-token predictions of :func:`repeated_segments` rows.

    As in :func:`induction_masks`: ``first`` marks the predictions of ``x_2 .. x_L`` in the
    first copy, ``repeated`` those in the second copy; prediction ``t`` is scored against
    token ``t + 1``.
    """
    validate.tensor(starts, "starts", ndim=1, floating=False)
    validate.tensor(lengths, "lengths", ndim=1, floating=False)
    validate.same_size(len(starts), len(lengths), "lengths (one per row of starts)")
    validate.positive_int(seq_len, "seq_len", minimum=2)
    if (starts < 1).any() or (lengths < 2).any() or (starts + 2 * lengths > seq_len).any():
        raise ValueError(f"starts, lengths: expected 1 <= s, 2 <= L and s + 2L <= seq_len = {seq_len}, "
                         f"got starts {starts.tolist()} and lengths {lengths.tolist()}")
    target = torch.arange(1, seq_len, device=starts.device)[None]  # (1, T - 1): token each prediction is scored on
    s, L = starts[:, None], lengths[:, None]
    first = (target >= s + 1) & (target <= s + L - 1)
    repeated = (target >= s + L + 1) & (target <= s + 2 * L - 1)
    return first, repeated


# --- task metrics: losses on the two copies, and the heads that copy ------------------------

def second_copy(ids, starts, lengths):
    """Bool mask shaped like ``ids``, true on the second copy of each row's segment (the induction queries)."""
    pos = torch.arange(ids.shape[1], device=ids.device)[None]  # (1, T)
    s, L = starts.to(ids.device)[:, None], lengths.to(ids.device)[:, None]
    return (pos >= s + L) & (pos < s + 2 * L)


def half_losses(model, ids, starts, lengths):
    """Mean next-token loss on the first copy and on the repeated copy of each row's segment."""
    first, repeated = segment_masks(starts, lengths, ids.shape[1])
    x, y = next_token_batch(ids)
    logits = model(x)  # (B, T - 1, V)
    loss = F.cross_entropy(logits.transpose(1, 2), y, reduction="none")  # (B, T - 1)
    return float(loss[first.to(loss.device)].mean()), float(loss[repeated.to(loss.device)].mean())


def head_scores(model, ids, starts, lengths):
    """``(induction, previous-token)`` scores ``(n_layers, n_heads)`` on held-out rows.

    Induction: attention from each token of the second copy to the token after its
    earlier copy; previous token: attention from each position to the one before
    (:mod:`llmxai.explain.mech`).
    """
    from llmxai.explain.mech import induction_head_scores, previous_token_head_scores

    ind = induction_head_scores(model, ids=ids, queries=second_copy(ids, starts, lengths))
    return ind, previous_token_head_scores(model, ids)
