"""Additive attention: a small feed-forward network scores each source position.

``e_j = v^T tanh(W_s s + W_h h_j)``, ``alpha = softmax_j(e)``, ``context = sum_j alpha_j h_j``
(Bahdanau, Cho & Bengio 2015, ICLR, arXiv:1409.0473, appendix A.1.2). Softmax runs over
the source positions ``j``; padded positions (mask False) get weight exactly zero.
"""

import torch
from torch import nn

from llmxai import validate
from llmxai.hooks import HookPoint
from llmxai.nn.attention import masked_softmax


class AdditiveAttention(nn.Module):
    """``forward(query (B, d_query) or (B, Tq, d_query), keys (B, T, d_key), mask=None) -> (context, weights)``.

    ``mask (B, T)`` bool, True on real source tokens. ``context`` is ``(B, d_key)`` (or
    ``(B, Tq, d_key)``) and ``weights`` ``(B, T)`` (or ``(B, Tq, T)``). Hook points:
    ``hook_scores`` (masked, before softmax) and ``hook_weights`` (patchable).
    """

    def __init__(self, d_query, d_key, d_attn):
        super().__init__()
        for name, v in (("d_query", d_query), ("d_key", d_key), ("d_attn", d_attn)):
            validate.positive_int(v, name)
        self.d_query, self.d_key = d_query, d_key
        self.W_s = nn.Linear(d_query, d_attn, bias=False)
        self.W_h = nn.Linear(d_key, d_attn, bias=False)
        self.v = nn.Linear(d_attn, 1, bias=False)
        self.hook_scores = HookPoint()
        self.hook_weights = HookPoint()

    def project_keys(self, keys):
        """``W_h h_j (B, T, d_attn)``: it does not depend on the query, so a decoder computes it once."""
        validate.tensor(keys, "keys", ndim=3, floating=True)
        validate.same_size(self.d_key, keys.shape[2], "keys: feature size d_key")
        validate.same_dtype(keys, self.W_h.weight, "keys")
        if keys.shape[1] == 0:
            raise ValueError(f"keys: expected at least one source position, got shape {tuple(keys.shape)}")
        return self.W_h(keys)

    def forward(self, query, keys, mask=None, keys_proj=None):
        validate.tensor(query, "query", ndim=(2, 3), floating=True)
        validate.same_size(self.d_query, query.shape[-1], "query: feature size d_query")
        validate.same_dtype(query, self.W_s.weight, "query")
        if keys_proj is None:
            proj = self.project_keys(keys)  # (B, T, d_attn)
        else:
            validate.tensor(keys, "keys", ndim=3, floating=True)
            proj = validate.tensor(keys_proj, "keys_proj", ndim=3, floating=True)
            want = (*keys.shape[:2], self.W_h.out_features)
            if tuple(proj.shape) != want:
                raise ValueError(f"keys_proj: expected project_keys(keys), of shape {want}, got {tuple(proj.shape)}")
        validate.same_size(keys.shape[0], query.shape[0], "query: batch size (same as keys)")
        B, T = keys.shape[:2]
        if mask is not None:
            validate.tensor(mask, "mask", ndim=2)
            if mask.dtype != torch.bool:
                raise TypeError(f"mask: expected dtype torch.bool (True = real token), got {mask.dtype}")
            if tuple(mask.shape) != (B, T):
                raise ValueError(f"mask: expected shape {(B, T)}, got {tuple(mask.shape)}")
        q = self.W_s(query)  # (B, d_attn) or (B, Tq, d_attn)
        if query.dim() == 3:
            q, proj = q[:, :, None], proj[:, None]  # (B, Tq, 1, d_attn), (B, 1, T, d_attn)
        else:
            q = q[:, None]  # (B, 1, d_attn)
        scores = self.v(torch.tanh(q + proj)).squeeze(-1)  # (B, T) or (B, Tq, T)
        if mask is not None:
            m = mask if query.dim() == 2 else mask[:, None]
            scores = scores.masked_fill(~m, float("-inf"))
        scores = self.hook_scores(scores)
        weights = self.hook_weights(masked_softmax(scores))  # rows sum to one over source positions
        if query.dim() == 3:
            return weights @ keys, weights  # (B, Tq, d_key), (B, Tq, T)
        return (weights[:, None] @ keys).squeeze(1), weights  # (B, d_key), (B, T)
