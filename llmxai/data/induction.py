"""Repeated random token sequences, the task on which induction heads form.

Each row is ``[BOS, x_1 .. x_L, x_1 .. x_L]`` with random tokens ``x``. The first half
cannot be predicted; in the second half, a model that finds the earlier occurrence of the
current token and copies the token after it (an induction head; Olsson et al. 2022,
arXiv:2209.11895) predicts every token from ``x_2`` on.
"""

import torch

from llmxai import validate

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
    n_tokens = vocab_size - 1
    if distinct and seq_len > n_tokens:
        raise ValueError(
            f"seq_len: expected at most vocab_size - 1 = {n_tokens} for distinct tokens, got {seq_len}"
        )
    g = torch.Generator().manual_seed(seed)
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
    b = int(bool(bos))
    n = b + 2 * seq_len - 1
    target = torch.arange(1, n + 1)  # position of the token each prediction is scored against
    first = (target >= b + 1) & (target <= b + seq_len - 1)
    repeated = target >= b + seq_len + 1
    return first, repeated
