"""Sequence-to-sequence translation with an LSTM encoder, additive attention and an LSTM decoder.

The RNNsearch model of Bahdanau, Cho & Bengio (2015, ICLR, arXiv:1409.0473), with LSTM
units (Hochreiter & Schmidhuber 1997) in place of GRUs. At decoder step ``t``::

    c_t = sum_j alpha_tj h_j,   alpha_t = softmax_j(v^T tanh(W_s s_{t-1} + W_h h_j))
    s_t = LSTMCell([E y_{t-1}; c_t], s_{t-1})
    logits_t = W_o [s_t; c_t] + b_o

Trained with teacher forcing (the true previous token ``y_{t-1}`` is fed in), decoded
greedily. This is the working version of the broken model in the source material: the
source embedding is sized by the source vocabulary, the decoder state exists before it
is used, and the attention weights multiply the encoder states.
"""

import torch
from torch import nn

from llmxai import validate
from llmxai.hooks import HookPoint
from llmxai.nn.additive import AdditiveAttention
from llmxai.nn.embedding import Embedding
from llmxai.nn.lstm import LSTM, LSTMCell


class Seq2Seq(nn.Module):
    """``forward(src (B, T_src), tgt_in (B, T_tgt), src_lengths=None) -> logits (B, T_tgt, V_tgt)``.

    ``tgt_in`` starts with the begin-of-sequence id (the targets shifted right). Hook
    points: ``hook_attn`` ``(B, T_tgt, T_src)`` holds every step's attention weights (for
    reading; patch ``attn.hook_weights`` ``(B, T_src)`` to change a step), plus the
    encoder's ``encoder.hook_h_l0`` etc. and ``src_embed``/``tgt_embed``'s inputs.
    """

    def __init__(self, src_vocab, tgt_vocab, d_emb, d_hidden, d_attn=None, bidirectional=True, pad_id=0):
        super().__init__()
        for name, v in (("src_vocab", src_vocab), ("tgt_vocab", tgt_vocab), ("d_emb", d_emb), ("d_hidden", d_hidden)):
            validate.positive_int(v, name)
        d_attn = d_hidden if d_attn is None else validate.positive_int(d_attn, "d_attn")
        validate.positive_int(pad_id, "pad_id", minimum=0)
        if pad_id >= min(src_vocab, tgt_vocab):
            raise ValueError(f"pad_id: expected an id in both vocabularies, [0, {min(src_vocab, tgt_vocab)}), "
                             f"got {pad_id}")
        self.src_vocab, self.tgt_vocab, self.pad_id = src_vocab, tgt_vocab, pad_id
        n_dir = 2 if validate.flag(bidirectional, "bidirectional") else 1
        d_enc = n_dir * d_hidden
        self.src_embed = Embedding(src_vocab, d_emb, padding_idx=pad_id)
        self.tgt_embed = Embedding(tgt_vocab, d_emb, padding_idx=pad_id)
        self.encoder = LSTM(d_emb, d_hidden, batch_first=True, bidirectional=bidirectional)
        self.bridge = nn.Linear(d_enc, d_hidden)  # s_0 = tanh(W [h_fwd_T; h_bwd_1] + b)
        self.attn = AdditiveAttention(d_hidden, d_enc, d_attn)
        self.decoder = LSTMCell(d_emb + d_enc, d_hidden)
        self.out = nn.Linear(d_hidden + d_enc, tgt_vocab)
        self.hook_attn = HookPoint()

    def encode(self, src, src_lengths=None):
        """Return encoder states ``(B, T_src, d_enc)``, source mask ``(B, T_src)`` and the decoder's first state."""
        validate.token_ids(src, "src", self.src_vocab)
        B, T = src.shape
        if src_lengths is not None:
            validate.lengths(src_lengths, B, T, "src_lengths")
        enc, (h_n, _) = self.encoder(self.src_embed(src), lengths=src_lengths)  # (B, T_src, d_enc)
        last = torch.cat(list(h_n[-self.encoder.n_dir:]), dim=-1)  # (B, d_enc)
        s = torch.tanh(self.bridge(last))  # (B, d_hidden)
        if src_lengths is None:
            mask = torch.ones(B, T, dtype=torch.bool, device=src.device)
        else:
            mask = torch.arange(T, device=src.device)[None] < src_lengths.to(src.device)[:, None]  # (B, T_src)
        return enc, mask, (s, torch.zeros_like(s))

    def step(self, y_prev, state, enc, mask, keys_proj=None):
        """One decoder step from previous tokens ``(B,)``; returns ``logits (B, V), state, weights (B, T_src)``."""
        context, weights = self.attn(state[0], enc, mask, keys_proj)  # (B, d_enc), (B, T_src)
        x = torch.cat([self.tgt_embed(y_prev[:, None])[:, 0], context], dim=-1)  # (B, d_emb + d_enc)
        state = self.decoder(x, state)  # (B, d_hidden) twice
        logits = self.out(torch.cat([state[0], context], dim=-1))  # (B, V_tgt)
        return logits, state, weights

    def forward(self, src, tgt_in, src_lengths=None):
        validate.token_ids(src, "src", self.src_vocab)
        validate.token_ids(tgt_in, "tgt_in", self.tgt_vocab)
        validate.same_size(src.shape[0], tgt_in.shape[0], "tgt_in: batch size (same as src)")
        enc, mask, state = self.encode(src, src_lengths)
        keys_proj = self.attn.project_keys(enc)  # (B, T_src, d_attn), the same for every step
        logits, weights = [], []
        for t in range(tgt_in.shape[1]):
            step_logits, state, w = self.step(tgt_in[:, t], state, enc, mask, keys_proj)
            logits.append(step_logits)
            weights.append(w)
        self.hook_attn(torch.stack(weights, dim=1))  # (B, T_tgt, T_src)
        return torch.stack(logits, dim=1)  # (B, T_tgt, V_tgt)

    def greedy_decode(self, src, max_len, bos_id, eos_id, src_lengths=None):
        """Feed back the most likely token; return ``tokens (B, T_out)`` and ``attention (B, T_out, T_src)``.

        Decoding stops after ``max_len`` steps or when every sequence has produced
        ``eos_id``; after its ``eos_id`` a sequence is filled with the padding id and zero
        attention. ``tokens`` does not include ``bos_id``.
        """
        validate.positive_int(max_len, "max_len")
        for name, v in (("bos_id", bos_id), ("eos_id", eos_id)):
            validate.positive_int(v, name, minimum=0)
            if v >= self.tgt_vocab:
                raise ValueError(f"{name}: expected an id in [0, {self.tgt_vocab}), got {v}")
        enc, mask, state = self.encode(src, src_lengths)
        keys_proj = self.attn.project_keys(enc)
        B = src.shape[0]
        y = torch.full((B,), bos_id, dtype=torch.long, device=src.device)
        done = torch.zeros(B, dtype=torch.bool, device=src.device)
        tokens, weights = [], []
        for _ in range(max_len):
            logits, state, w = self.step(y, state, enc, mask, keys_proj)
            y = logits.argmax(dim=-1)  # (B,)
            tokens.append(y.masked_fill(done, self.pad_id))
            weights.append(w.masked_fill(done[:, None], 0.0))
            done = done | (y == eos_id)
            if bool(done.all()):
                break
        attention = self.hook_attn(torch.stack(weights, dim=1))  # (B, T_out, T_src)
        return torch.stack(tokens, dim=1), attention
