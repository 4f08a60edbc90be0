"""A text classifier: embedding, (bi)LSTM, attention pooling, linear head.

Attention pooling scores each hidden state with a small learned network and averages
the states with the softmax of those scores (Bahdanau et al. 2015, arXiv:1409.0473,
scoring; Yang et al. 2016, NAACL, doi:10.18653/v1/N16-1174, pooling)::

    u_t = tanh(W h_t + b),   e_t = w^T u_t,   a = softmax_t(e) over real tokens,   z = sum_t a_t h_t

The weights ``a`` come from this attention layer; the LSTM's hidden state is not itself
an attention weight (the source material conflates the two). Note that attention
weights alone are not a faithful explanation (Jain & Wallace 2019, arXiv:1902.10186;
Wiegreffe & Pinter 2019, arXiv:1908.04626).
"""

import torch
from torch import nn

from llmxai import validate
from llmxai.hooks import HookPoint
from llmxai.nn.attention import masked_softmax
from llmxai.nn.embedding import Embedding
from llmxai.nn.lstm import LSTM


class LSTMAttentionClassifier(nn.Module):
    """``forward(ids (B, T), lengths=None) -> logits (B, n_classes)``; padding id 0.

    Hook points: ``hook_embed`` ``(B, T, d_emb)``, the LSTM's ``lstm.hook_h_l0`` etc.,
    ``hook_attn_scores`` ``(B, T)`` (padding set to -inf), ``hook_attn_weights`` ``(B, T)``
    (patchable), ``hook_pooled`` ``(B, n_dir * d_hidden)``.
    """

    def __init__(self, vocab_size, n_classes, d_emb, d_hidden, bidirectional=True, d_attn=None):
        super().__init__()
        for name, v in (("vocab_size", vocab_size), ("n_classes", n_classes), ("d_emb", d_emb), ("d_hidden", d_hidden)):
            validate.positive_int(v, name)
        d_out = d_hidden * (2 if validate.flag(bidirectional, "bidirectional") else 1)
        d_attn = d_out if d_attn is None else validate.positive_int(d_attn, "d_attn")
        self.vocab_size, self.n_classes, self.d_emb = vocab_size, n_classes, d_emb
        self.embedding = Embedding(vocab_size, d_emb, padding_idx=0)
        self.hook_embed = HookPoint()
        self.lstm = LSTM(d_emb, d_hidden, batch_first=True, bidirectional=bidirectional)
        self.attn_proj = nn.Linear(d_out, d_attn)  # W, b
        self.attn_score = nn.Linear(d_attn, 1, bias=False)  # w
        self.hook_attn_scores = HookPoint()
        self.hook_attn_weights = HookPoint()
        self.hook_pooled = HookPoint()
        self.head = nn.Linear(d_out, n_classes)

    def embed(self, ids):
        validate.token_ids(ids, "ids", self.vocab_size)
        return self.hook_embed(self.embedding(ids))  # (B, T, d_emb)

    def forward_embedded(self, E, lengths=None):
        validate.embedded(E, self.d_emb, self.embedding.weight, lengths)
        Hs, _ = self.lstm(E, lengths=lengths)  # (B, T, d_out)
        scores = self.attn_score(torch.tanh(self.attn_proj(Hs))).squeeze(-1)  # (B, T)
        if lengths is not None:
            real = torch.arange(E.shape[1], device=E.device)[None] < lengths.to(E.device)[:, None]  # (B, T)
            scores = scores.masked_fill(~real, float("-inf"))
        scores = self.hook_attn_scores(scores)
        weights = self.hook_attn_weights(masked_softmax(scores))  # (B, T)
        pooled = self.hook_pooled((weights[:, None] @ Hs).squeeze(1))  # (B, d_out)
        return self.head(pooled)  # (B, n_classes)

    def forward(self, ids, lengths=None):
        E = self.embed(ids)
        return self.forward_embedded(E, lengths)
