"""A tiny decoder-only LM that follows llmxai.nn.contract (hook names, ln_f, unembed), for tests only.

``norm=False`` makes every LayerNorm an identity so that hand-set weights act exactly as written.
"""

import math

import torch
from torch import nn

from llmxai.hooks import HookPoint


class LayerNorm(nn.Module):
    def __init__(self, d, enabled=True, eps=1e-5):
        super().__init__()
        self.enabled, self.eps = enabled, eps
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d))

    def forward(self, x):
        if not self.enabled:
            return x
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + self.eps) * self.weight + self.bias


class Attention(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.n_heads, self.d_head = n_heads, d_model // n_heads
        self.W_Q, self.W_K, self.W_V, self.W_O = (nn.Linear(d_model, d_model) for _ in range(4))
        for name in ("q", "k", "v", "scores", "pattern", "z"):
            setattr(self, f"hook_{name}", HookPoint())

    def forward(self, x):  # (B, T, d_model)
        B, T, _ = x.shape
        split = lambda t: t.view(B, T, self.n_heads, self.d_head).transpose(1, 2)  # (B, n_heads, T, d_head)
        q, k, v = self.hook_q(split(self.W_Q(x))), self.hook_k(split(self.W_K(x))), self.hook_v(split(self.W_V(x)))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.d_head)  # (B, n_heads, T, T)
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        scores = self.hook_scores(scores.masked_fill(~causal, float("-inf")))
        pattern = self.hook_pattern(scores.softmax(-1))
        z = self.hook_z(pattern @ v)  # (B, n_heads, T, d_head)
        return self.W_O(z.transpose(1, 2).reshape(B, T, -1))


class Block(nn.Module):
    def __init__(self, d_model, n_heads, mlp, norm):
        super().__init__()
        self.ln1, self.ln2 = LayerNorm(d_model, norm), LayerNorm(d_model, norm)
        self.attn = Attention(d_model, n_heads)
        self.mlp = nn.Sequential(nn.Linear(d_model, 2 * d_model), nn.ReLU(), nn.Linear(2 * d_model, d_model)) if mlp else None
        for name in ("resid_pre", "attn_out", "resid_mid", "mlp_out", "resid_post"):
            setattr(self, f"hook_{name}", HookPoint())

    def forward(self, x):
        x = self.hook_resid_pre(x)
        x = self.hook_resid_mid(x + self.hook_attn_out(self.attn(self.ln1(x))))
        if self.mlp is not None:
            x = x + self.hook_mlp_out(self.mlp(self.ln2(x)))
        return self.hook_resid_post(x)


class TinyLM(nn.Module):
    def __init__(self, V=20, d_model=16, n_heads=2, n_layers=2, max_T=32, mlp=True, norm=True, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.tok = nn.Embedding(V, d_model)
        self.pos = nn.Parameter(0.1 * torch.randn(max_T, d_model))
        self.hook_embed = HookPoint()
        self.blocks = nn.ModuleList(Block(d_model, n_heads, mlp, norm) for _ in range(n_layers))
        self.ln_f = LayerNorm(d_model, norm)
        self.unembed = nn.Linear(d_model, V)
        self.eval()

    def embed(self, ids):
        return self.hook_embed(self.tok(ids))

    def forward_embedded(self, E):
        x = E + self.pos[:E.shape[1]]
        for block in self.blocks:
            x = block(x)
        return self.unembed(self.ln_f(x))

    def forward(self, ids):
        return self.forward_embedded(self.embed(ids))


def induction_model(V=12, max_T=24, c=40.0):
    """Two attention-only layers set by hand: layer 0 head 0 copies the previous token into a
    second subspace; layer 1 head 0 attends to the position whose previous token is the current one.

    Residual layout: [token one-hot (V) | previous-token one-hot (V) | position one-hot (max_T)].
    """
    d = 2 * V + max_T
    model = TinyLM(V=V, d_model=d, n_heads=2, n_layers=2, max_T=max_T, mlp=False, norm=False).double()
    tok, prev, pos = slice(0, V), slice(V, 2 * V), slice(2 * V, d)
    scale = math.sqrt(model.blocks[0].attn.d_head)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.tok.weight[:, tok] = torch.eye(V, dtype=torch.float64)
        model.pos[:, pos] = torch.eye(max_T, dtype=torch.float64)
        a0, a1 = model.blocks[0].attn, model.blocks[1].attn
        h = a0.d_head  # head 0 uses output rows 0..h-1 of W_Q, W_K, W_V
        assert h >= max_T and h >= V
        a0.W_Q.weight[:max_T, pos] = c * scale * torch.eye(max_T, dtype=torch.float64)
        a0.W_K.weight[:max_T, pos] = torch.eye(max_T, dtype=torch.float64).roll(-1, 1)  # key j looks like query j+1
        a0.W_V.weight[:V, tok] = torch.eye(V, dtype=torch.float64)
        a0.W_O.weight[prev, :V] = torch.eye(V, dtype=torch.float64)
        a1.W_Q.weight[:V, tok] = c * scale * torch.eye(V, dtype=torch.float64)
        a1.W_K.weight[:V, prev] = torch.eye(V, dtype=torch.float64)
        a1.W_V.weight[:V, tok] = torch.eye(V, dtype=torch.float64)
        a1.W_O.weight[tok, :V] = 2 * torch.eye(V, dtype=torch.float64)  # outvotes the current token
        model.unembed.weight[:, :V] = torch.eye(V, dtype=torch.float64)
    return model
