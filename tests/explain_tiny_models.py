"""Tiny models for the explanation tests, following llmxai.nn.contract (embed / forward_embedded / hook names)."""

import math

import torch
from torch import nn

from llmxai.hooks import HookPoint
from llmxai.nn.attention import causal_mask, padding_mask


class Attention(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.n_heads, self.d_head = n_heads, d_model // n_heads
        self.q, self.k, self.v, self.o = (nn.Linear(d_model, d_model) for _ in range(4))
        self.hook_pattern = HookPoint()

    def forward(self, x, keep):
        B, T, d_model = x.shape
        split = lambda t: t.view(B, T, self.n_heads, self.d_head).transpose(1, 2)  # (B, n_heads, T, d_head)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = (q @ k.transpose(-1, -2) / math.sqrt(self.d_head)).masked_fill(~keep, float("-inf"))
        pattern = self.hook_pattern(torch.softmax(scores, -1))  # (B, n_heads, T, T)
        z = (pattern @ v).transpose(1, 2).reshape(B, T, d_model)
        return self.o(z)


class Block(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.attn = Attention(d_model, n_heads)
        self.mlp = nn.Sequential(nn.Linear(d_model, 2 * d_model), nn.Tanh(), nn.Linear(2 * d_model, d_model))

    def forward(self, x, keep):
        x = x + self.attn(x, keep)
        return x + self.mlp(x)


class TinyTransformer(nn.Module):
    """Classifier ``(B, n_classes)`` (padding via ``lengths``) or, with ``lm=True``, a causal LM ``(B, T, V)``."""

    def __init__(self, vocab_size=12, d_model=8, n_heads=2, n_layers=2, n_classes=3, max_len=16, lm=False, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.vocab_size, self.lm = vocab_size, lm
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Parameter(0.5 * torch.randn(max_len, d_model))
        self.hook_embed = HookPoint()
        self.blocks = nn.ModuleList(Block(d_model, n_heads) for _ in range(n_layers))
        self.out = nn.Linear(d_model, vocab_size if lm else n_classes)

    def embed(self, ids):
        return self.hook_embed(self.tok(ids))

    def forward_embedded(self, E, lengths=None):
        B, T, _ = E.shape
        x = E + self.pos[:T]
        if self.lm:
            keep = causal_mask(T, device=E.device)
        elif lengths is None:
            keep = torch.ones(B, 1, 1, T, dtype=torch.bool, device=E.device)
        else:
            keep = padding_mask(lengths, T)[:, None]  # (B, 1, 1, T)
        for block in self.blocks:
            x = block(x, keep)
        if self.lm:
            return self.out(x)
        valid = keep.reshape(B, T).to(x.dtype) if lengths is not None else torch.ones(B, T, dtype=x.dtype)
        return self.out((x * valid[..., None]).sum(1) / valid.sum(1, keepdim=True))

    def forward(self, ids, lengths=None):
        return self.forward_embedded(self.embed(ids), lengths) if not self.lm else self.forward_embedded(self.embed(ids))


class TextCNN(nn.Module):
    """Embedding, Conv1d over tokens, max-pool over time, linear head."""

    def __init__(self, vocab_size=12, d_model=6, channels=5, n_classes=3, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.vocab_size = vocab_size
        self.tok = nn.Embedding(vocab_size, d_model)
        self.hook_embed = HookPoint()
        self.conv = nn.Conv1d(d_model, channels, 3, padding=1)
        self.act = nn.ReLU()
        self.head = nn.Linear(channels, n_classes)

    def embed(self, ids):
        return self.hook_embed(self.tok(ids))

    def forward_embedded(self, E):
        A = self.act(self.conv(E.transpose(1, 2)))  # (B, channels, T)
        return self.head(A.max(-1).values)

    def forward(self, ids):
        return self.forward_embedded(self.embed(ids))


class TextLSTM(nn.Module):
    """Embedding, torch LSTM (a test-only oracle model), mean over time, linear head."""

    def __init__(self, vocab_size=12, d_model=6, hidden=7, n_classes=3, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.vocab_size = vocab_size
        self.tok = nn.Embedding(vocab_size, d_model)
        self.hook_embed = HookPoint()
        self.lstm = nn.LSTM(d_model, hidden, batch_first=True)
        self.head = nn.Linear(hidden, n_classes)

    def embed(self, ids):
        return self.hook_embed(self.tok(ids))

    def forward_embedded(self, E):
        out, _ = self.lstm(E)  # (B, T, hidden)
        return self.head(out.mean(1))

    def forward(self, ids):
        return self.forward_embedded(self.embed(ids))


def image_cnn(seed=0, n_classes=4):
    """Conv, ReLU, max-pool, conv, ReLU, average-pool, Flatten, Linear on (B, 1, 8, 8) images."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(6 * 2 * 2, 8), nn.Softplus(), nn.Linear(8, n_classes),
    )


def ids_batch(B=2, T=6, vocab_size=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(1, vocab_size, (B, T), generator=g)
