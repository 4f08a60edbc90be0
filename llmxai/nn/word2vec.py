"""Continuous bag of words (CBOW): learn embeddings by predicting a token from its neighbours.

Mikolov et al. (2013, arXiv:1301.3781, section 3.1): the embeddings of the ``w`` tokens
on each side of a position are averaged, and a linear layer scores every vocabulary
entry as the token in the middle::

    h = mean_{c in context} W_e[c],   logits = W_out h + b

Here the output is a full softmax over the vocabulary (the paper uses a hierarchical
softmax to make large vocabularies cheap; with tens of words there is no need).
Padding (id ``padding_idx``) marks context slots beyond the sentence and is left out of
the mean.
"""

import torch
from torch import nn

from llmxai import validate
from llmxai.hooks import HookPoint
from llmxai.nn.embedding import Embedding


def cbow_windows(ids, window=2, padding_idx=0):
    """All (context, centre) pairs of padded sentences ``ids (N, T)``.

    Returns ``contexts (M, 2 * window)`` (the ``window`` ids before the centre, then the
    ``window`` after; ``padding_idx`` where the sentence has none) and ``centres (M,)``,
    one pair for every non-padding token, sentence by sentence, left to right.
    """
    validate.tensor(ids, "ids", ndim=2, floating=False)
    validate.positive_int(window, "window")
    validate.positive_int(padding_idx, "padding_idx", minimum=0)
    if ids.shape[0] == 0 or ids.shape[1] == 0:
        raise ValueError(f"ids: expected at least one sentence and one token, got shape {tuple(ids.shape)}")
    N, T = ids.shape
    padded = torch.full((N, T + 2 * window), padding_idx, dtype=ids.dtype, device=ids.device)
    padded[:, window:window + T] = ids  # (N, T + 2 window)
    offsets = [o for o in range(-window, window + 1) if o != 0]
    positions = torch.arange(T, device=ids.device)[:, None] + window + torch.tensor(offsets, device=ids.device)
    contexts = padded[:, positions]  # (N, T, 2 window)
    real = ids != padding_idx  # (N, T)
    if not real.any():
        raise ValueError("ids: expected at least one token that is not padding, got only padding")
    return contexts[real], ids[real]


class CBOW(nn.Module):
    """``forward(contexts (B, 2w)) -> logits (B, V)``: the centre token scored from its context.

    Hook points: ``hook_embed`` ``(B, 2w, d_model)`` and ``hook_mean`` ``(B, d_model)``.
    """

    def __init__(self, vocab_size, d_model, padding_idx=0):
        super().__init__()
        self.vocab_size = validate.positive_int(vocab_size, "vocab_size")
        self.d_model = validate.positive_int(d_model, "d_model")
        validate.positive_int(padding_idx, "padding_idx", minimum=0)
        self.embedding = Embedding(vocab_size, d_model, padding_idx=padding_idx)
        self.hook_embed = HookPoint()
        self.hook_mean = HookPoint()
        self.out = nn.Linear(d_model, vocab_size)  # W_out, b

    def embed(self, contexts):
        validate.token_ids(contexts, "contexts", self.vocab_size)
        return self.hook_embed(self.embedding(contexts))  # (B, 2w, d_model)

    def forward_embedded(self, E, real=None):
        """Logits from context embeddings ``E (B, 2w, d_model)``; ``real (B, 2w)`` bool marks non-padding."""
        validate.embedded(E, self.d_model, self.embedding.weight)
        if real is None:
            real = torch.ones(E.shape[:2], dtype=torch.bool, device=E.device)
        if not isinstance(real, torch.Tensor):
            raise TypeError(f"real: expected a bool torch.Tensor, got {type(real).__name__}")
        if real.dtype != torch.bool or real.shape != E.shape[:2]:
            raise ValueError(
                f"real: expected a bool tensor of shape {tuple(E.shape[:2])}, got {real.dtype} of shape {tuple(real.shape)}"
            )
        weights = real.to(E.dtype)  # (B, 2w)
        count = weights.sum(dim=1, keepdim=True).clamp_min(1)  # (B, 1); an all-padding context gives h = 0
        h = self.hook_mean((weights[:, :, None] * E).sum(dim=1) / count)  # (B, d_model)
        return self.out(h)  # (B, V)

    def forward(self, contexts):
        E = self.embed(contexts)
        real = contexts != self.embedding.padding_idx
        return self.forward_embedded(E, real)
