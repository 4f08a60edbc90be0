"""A tiny pre-LN Transformer classifier that follows llmxai.nn.contract, standing in for llmxai.nn's in LRP tests."""

import math

import torch
from torch import nn

from llmxai.hooks import HookPoint


class LayerNorm(nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.weight, self.bias, self.eps = nn.Parameter(torch.ones(d)), nn.Parameter(torch.zeros(d)), eps
        self.hook_scale = HookPoint()

    def forward(self, x):
        mu = x.mean(-1, keepdim=True)
        sd = self.hook_scale(((x - mu) ** 2).mean(-1, keepdim=True).add(self.eps).sqrt())
        return (x - mu) / sd * self.weight + self.bias


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_heads, bias):
        super().__init__()
        self.n_heads, self.d_head = n_heads, d_model // n_heads
        self.W_q, self.W_k, self.W_v, self.W_o = (nn.Linear(d_model, d_model, bias=bias) for _ in range(4))
        for name in ("hook_q", "hook_k", "hook_v", "hook_scores", "hook_pattern", "hook_z"):
            setattr(self, name, HookPoint())

    def forward(self, x, mask=None):
        B, T, _ = x.shape
        split = lambda t: t.view(B, T, self.n_heads, self.d_head).transpose(1, 2)  # noqa: E731
        q, k, v = self.hook_q(split(self.W_q(x))), self.hook_k(split(self.W_k(x))), self.hook_v(split(self.W_v(x)))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.d_head)  # (B, n_heads, T, T)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        pattern = self.hook_pattern(torch.softmax(self.hook_scores(scores), -1))
        z = self.hook_z(pattern @ v)  # (B, n_heads, T, d_head)
        return self.W_o(z.transpose(1, 2).reshape(B, T, -1))


class FeedForward(nn.Module):
    """Like llmxai.nn.layers.FeedForward: a functional activation marked by hook_hidden."""

    def __init__(self, d_model, d_ff, bias, activation="gelu"):
        super().__init__()
        self.activation = activation
        self.linear1, self.linear2 = nn.Linear(d_model, d_ff, bias=bias), nn.Linear(d_ff, d_model, bias=bias)
        self.hook_hidden = HookPoint()

    def forward(self, x):
        f = torch.nn.functional.gelu if self.activation == "gelu" else torch.relu
        return self.linear2(self.hook_hidden(f(self.linear1(x))))


class Block(nn.Module):
    def __init__(self, d_model, n_heads, bias, act):
        super().__init__()
        self.ln1, self.ln2 = LayerNorm(d_model), LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, n_heads, bias)
        if act == "functional":
            self.mlp = FeedForward(d_model, 2 * d_model, bias)
        else:
            self.mlp = nn.Sequential(nn.Linear(d_model, 2 * d_model, bias=bias), act(),
                                     nn.Linear(2 * d_model, d_model, bias=bias))
        for name in ("hook_resid_pre", "hook_attn_out", "hook_resid_mid", "hook_mlp_out", "hook_resid_post"):
            setattr(self, name, HookPoint())

    def forward(self, x, mask=None):
        x = self.hook_resid_pre(x)
        x = self.hook_resid_mid(x + self.hook_attn_out(self.attn(self.ln1(x), mask)))
        return self.hook_resid_post(x + self.hook_mlp_out(self.mlp(self.ln2(x))))


class TinyTransformerClassifier(nn.Module):
    def __init__(self, vocab_size=11, d_model=8, n_heads=2, n_layers=2, n_classes=3, max_len=16, bias=True,
                 act=nn.GELU, causal=False, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Parameter(0.3 * torch.randn(max_len, d_model))
        self.hook_embed = HookPoint()
        self.blocks = nn.ModuleList(Block(d_model, n_heads, bias, act) for _ in range(n_layers))
        self.ln_f = LayerNorm(d_model)
        self.head = nn.Linear(d_model, n_classes, bias=bias)
        self.causal = causal
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, LayerNorm):
                    m.weight.uniform_(0.5, 1.5)
                    if bias:
                        m.bias.normal_(0, 0.1)

    def embed(self, ids):
        return self.hook_embed(self.tok(ids))

    def forward_embedded(self, E):
        T = E.shape[1]
        x = E + self.pos[:T]
        mask = torch.ones(T, T, dtype=torch.bool, device=E.device).tril() if self.causal else None
        for block in self.blocks:
            x = block(x, mask)
        return self.head(self.ln_f(x).mean(1))

    def forward(self, ids):
        return self.forward_embedded(self.embed(ids))


class LSTMAttentionClassifier(nn.Module):
    """Embedding, one-layer LSTM, attention pooling scored by a Linear, then a Linear head (llmxai.nn.contract names)."""

    def __init__(self, vocab_size=11, d_model=6, hidden=5, n_classes=3, bidirectional=True, bias=True, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.tok = nn.Embedding(vocab_size, d_model)
        self.hook_embed, self.hook_attn_scores, self.hook_attn_weights = HookPoint(), HookPoint(), HookPoint()
        self.lstm = nn.LSTM(d_model, hidden, batch_first=True, bidirectional=bidirectional, bias=bias)
        D = hidden * (1 + bidirectional)
        self.score = nn.Linear(D, 1, bias=bias)
        self.head = nn.Linear(D, n_classes, bias=bias)

    def embed(self, ids):
        return self.hook_embed(self.tok(ids))

    def forward_embedded(self, E, lengths=None):
        h, _ = self.lstm(E)  # (B, T, D)
        w = self.hook_attn_weights(torch.softmax(self.hook_attn_scores(self.score(h)[..., 0]), -1))  # (B, T)
        return self.head((w[..., None] * h).sum(1))

    def forward(self, ids, lengths=None):
        return self.forward_embedded(self.embed(ids), lengths)
