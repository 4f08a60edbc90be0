"""A Llama-style decoder: RMSNorm, rotary positions, grouped-query attention and SwiGLU.

The architecture of LLaMA (Touvron et al. 2023, arXiv:2302.13971), which SmolLM2 follows
(Allal et al. 2025, arXiv:2502.02737). Against Part I's :class:`~llmxai.nn.GPT` four things
change: RMSNorm replaces LayerNorm, rotations of q and k replace learned position
embeddings, groups of query heads share one key/value head, and the feed-forward network
is gated (SwiGLU). There are no biases anywhere, and the unembedding may be the token
embedding itself (tied).
"""

import torch
from torch import nn

from llmxai import validate
from llmxai.hooks import HookPoint
from llmxai.nn.attention import attention_scores, causal_mask, masked_softmax


class RMSNorm(nn.Module):
    """``y = x / sqrt(mean(x^2) + eps) * weight`` over the last axis: LayerNorm without the mean and the bias.

    Zhang and Sennrich 2019, "Root Mean Square Layer Normalization" (NeurIPS,
    arXiv:1910.07467), eq. 4. Hook point ``hook_scale``: the root mean square ``(..., 1)``, which
    LRP holds constant, as for :class:`~llmxai.nn.LayerNorm`.
    """

    def __init__(self, d, eps=1e-6):
        super().__init__()
        validate.positive_int(d, "d")
        self.d, self.eps = d, validate.number(eps, "eps", above=0)
        self.weight = nn.Parameter(torch.ones(d))
        self.hook_scale = HookPoint()

    def forward(self, x):  # x: (..., d)
        validate.features(x, self.d, self.weight.dtype)
        rms = self.hook_scale(torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps))  # (..., 1)
        return x / rms * self.weight  # (..., d)

    def extra_repr(self):
        return f"{self.d}, eps={self.eps}"


def rotary_angles(T, d_head, base=10000.0, device=None, dtype=torch.float32):
    """``(cos, sin)`` of the angles ``m theta_i``, each ``(T, d_head / 2)``, with ``theta_i = base^(-2i / d_head)``.

    Su et al. 2024, "RoFormer: Enhanced Transformer with Rotary Position Embedding"
    (Neurocomputing 568, arXiv:2104.09864), eq. 15. The angles are computed in ``dtype``
    (at least float32) as ``transformers`` computes them, so that the two agree on long
    prompts too: at position 800 a float32 angle is off by up to 3e-5 radians, which moves
    SmolLM2's logits by about 2e-4.
    """
    validate.positive_int(T, "T")
    validate.positive_int(d_head, "d_head", minimum=2)
    if d_head % 2:
        raise ValueError(f"d_head: expected an even size (rotations act on pairs), got {d_head}")
    dt = torch.promote_types(dtype, torch.float32)
    exponent = torch.arange(0, d_head, 2, device=device, dtype=dt) / d_head  # (d_head / 2,)
    theta = 1.0 / validate.number(base, "base", above=0) ** exponent
    angles = torch.arange(T, device=device, dtype=dt)[:, None] * theta  # (T, d_head / 2)
    return angles.cos().to(dtype), angles.sin().to(dtype)


def apply_rotary(x, cos, sin):
    """Rotate each pair ``(x_{2i}, x_{2i+1})`` at position ``m`` by the angle ``m theta_i`` (Su et al. 2024, eq. 34).

    ``x (..., T, d_head)``; ``cos, sin (T, d_head / 2)`` from :func:`rotary_angles`. The
    score of a rotated query at ``m`` with a rotated key at ``n`` depends on ``m - n`` only.
    """
    x1, x2 = x[..., 0::2], x[..., 1::2]  # (..., T, d_head / 2)
    return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)  # (..., T, d_head)


class GroupedQueryAttention(nn.Module):
    """Causal self-attention whose ``n_kv_heads`` key/value heads each serve ``n_heads / n_kv_heads`` query heads.

    ``head_h = softmax(R q_h (R k_g)^T / sqrt(d_head)) v_g`` with ``g = floor(h / group)`` and
    ``R`` the rotation of :func:`apply_rotary` (Ainslie et al. 2023, "GQA", EMNLP,
    arXiv:2305.13245). Fewer key/value heads mean a smaller cache when generating; the
    scores are the scaled dot-product attention of :mod:`llmxai.nn.attention`, computed in
    its two steps (:func:`attention_scores`, :func:`masked_softmax`) so that the pattern is
    a hook point that can be read and patched. No biases.

    Hook points: ``hook_q (B, n_heads, T, d_head)``, ``hook_k``, ``hook_v (B, n_kv_heads, T,
    d_head)`` before the rotation; ``hook_rot_q``, ``hook_rot_k`` after it; ``hook_scores``
    and ``hook_pattern (B, n_heads, T, T)``; ``hook_z (B, n_heads, T, d_head)``.
    """

    def __init__(self, d_model, n_heads, n_kv_heads, d_head=None, rope_base=10000.0):
        super().__init__()
        for name, v in (("d_model", d_model), ("n_heads", n_heads), ("n_kv_heads", n_kv_heads)):
            validate.positive_int(v, name)
        if n_heads % n_kv_heads:
            raise ValueError(f"n_heads: expected a multiple of n_kv_heads={n_kv_heads}, got {n_heads}")
        if d_head is None:
            if d_model % n_heads:
                raise ValueError(f"d_model: expected a multiple of n_heads={n_heads}, got {d_model}")
            d_head = d_model // n_heads
        validate.positive_int(d_head, "d_head", minimum=2)
        self.d_model, self.n_heads, self.n_kv_heads, self.d_head = d_model, n_heads, n_kv_heads, d_head
        self.group, self.rope_base = n_heads // n_kv_heads, validate.number(rope_base, "rope_base", above=0)
        self.q_proj = nn.Linear(d_model, n_heads * d_head, bias=False)
        self.k_proj = nn.Linear(d_model, n_kv_heads * d_head, bias=False)
        self.v_proj = nn.Linear(d_model, n_kv_heads * d_head, bias=False)
        for name in ("q", "k", "v", "rot_q", "rot_k", "scores", "pattern", "z"):
            setattr(self, f"hook_{name}", HookPoint())
        self.out_proj = nn.Linear(n_heads * d_head, d_model, bias=False)

    def forward(self, x):  # x: (B, T, d_model)
        validate.tensor(x, "x", ndim=3, floating=True, finite=False)  # features() checks finiteness
        validate.features(x, self.d_model, self.q_proj.weight.dtype)
        B, T, _ = x.shape
        cos, sin = rotary_angles(T, self.d_head, self.rope_base, x.device, x.dtype)  # (T, d_head / 2)
        q = self.hook_q(self._split(self.q_proj(x), self.n_heads))  # (B, n_heads, T, d_head)
        k = self.hook_k(self._split(self.k_proj(x), self.n_kv_heads))  # (B, n_kv_heads, T, d_head)
        v = self.hook_v(self._split(self.v_proj(x), self.n_kv_heads))  # (B, n_kv_heads, T, d_head)
        q = self.hook_rot_q(apply_rotary(q, cos, sin))
        k = self.hook_rot_k(apply_rotary(k, cos, sin))
        # Each key/value head is shared by its group of query heads: broadcast over the group, no repeat.
        q = q.reshape(B, self.n_kv_heads, self.group, T, self.d_head)  # (B, n_kv_heads, group, T, d_head)
        scores = attention_scores(q, k[:, :, None], causal_mask(T, x.device))  # (B, n_kv_heads, group, T, T)
        scores = self.hook_scores(scores.reshape(B, self.n_heads, T, T))  # (B, n_heads, T, T)
        pattern = self.hook_pattern(masked_softmax(scores))  # (B, n_heads, T, T)
        z = pattern.reshape(B, self.n_kv_heads, self.group, T, T) @ v[:, :, None]  # (B, n_kv_heads, group, T, d_head)
        z = self.hook_z(z.reshape(B, self.n_heads, T, self.d_head))  # (B, n_heads, T, d_head)
        return self.out_proj(z.transpose(1, 2).reshape(B, T, self.n_heads * self.d_head))  # (B, T, d_model)

    def _split(self, x, heads):  # (B, T, heads * d_head) -> (B, heads, T, d_head)
        return x.view(x.shape[0], x.shape[1], heads, self.d_head).transpose(1, 2)


def silu(x):
    """``x * sigmoid(x)`` (Elfwing, Uchibe and Doya 2018, arXiv:1702.03118; "Swish", Ramachandran et al. 2017)."""
    return x * torch.sigmoid(x)


class SwiGLU(nn.Module):
    """Gated feed-forward network ``FFN(x) = (silu(x W_gate^T) * x W_up^T) W_down^T``, no biases.

    Shazeer 2020, "GLU Variants Improve Transformer" (arXiv:2002.05202), sec. 2. Hook points:
    ``hook_gate`` the activated gate and ``hook_up`` the linear branch ``(..., d_ff)``, and
    ``hook_hidden`` their product.
    """

    def __init__(self, d_model, d_ff):
        super().__init__()
        validate.positive_int(d_model, "d_model")
        validate.positive_int(d_ff, "d_ff")
        self.gate_proj = nn.Linear(d_model, d_ff, bias=False)
        self.hook_gate = HookPoint()
        self.up_proj = nn.Linear(d_model, d_ff, bias=False)
        self.hook_up = HookPoint()
        self.hook_hidden = HookPoint()
        self.down_proj = nn.Linear(d_ff, d_model, bias=False)

    def forward(self, x):  # x: (..., d_model)
        validate.features(x, self.gate_proj.in_features, self.gate_proj.weight.dtype)
        gate = self.hook_gate(silu(self.gate_proj(x)))  # (..., d_ff)
        h = self.hook_hidden(gate * self.hook_up(self.up_proj(x)))  # (..., d_ff)
        return self.down_proj(h)  # (..., d_model)


class LlamaBlock(nn.Module):
    """``x_mid = x + Attn(RMSNorm_1(x))``, ``x_out = x_mid + SwiGLU(RMSNorm_2(x_mid))``.

    Hook points as in :class:`~llmxai.nn.TransformerBlock`: ``hook_resid_pre``,
    ``hook_attn_out``, ``hook_resid_mid``, ``hook_mlp_out``, ``hook_resid_post``, all
    ``(B, T, d_model)``, plus those inside ``attn`` and ``mlp``.
    """

    def __init__(self, d_model, n_heads, n_kv_heads, d_ff, d_head=None, rope_base=10000.0, eps=1e-5):
        super().__init__()
        # Modules are assigned in forward order so that hook_names() lists them that way.
        self.hook_resid_pre = HookPoint()
        self.ln1 = RMSNorm(d_model, eps)
        self.attn = GroupedQueryAttention(d_model, n_heads, n_kv_heads, d_head, rope_base)
        self.hook_attn_out = HookPoint()
        self.hook_resid_mid = HookPoint()
        self.ln2 = RMSNorm(d_model, eps)
        self.mlp = SwiGLU(d_model, d_ff)
        self.hook_mlp_out = HookPoint()
        self.hook_resid_post = HookPoint()

    def forward(self, x):  # x: (B, T, d_model)
        x = self.hook_resid_pre(x)
        x = self.hook_resid_mid(x + self.hook_attn_out(self.attn(self.ln1(x))))  # (B, T, d_model)
        return self.hook_resid_post(x + self.hook_mlp_out(self.mlp(self.ln2(x))))  # (B, T, d_model)


class Llama(nn.Module):
    """Decoder-only language model: ``logits = unembed(ln_f(blocks(W_E[ids])))``, position ``t`` seeing tokens ``0..t``.

    Positions enter only through the rotations inside attention, so ``forward_embedded``
    takes the token embeddings as they are. With ``tie_embeddings`` the unembedding weight
    is the embedding matrix itself. The model contract of :class:`~llmxai.nn.GPT`:
    ``forward(ids)``, ``embed(ids)``, ``forward_embedded(E)``, ``blocks``, ``ln_f``,
    ``unembed``, ``hook_embed``.
    """

    def __init__(self, vocab_size, d_model, n_layers, n_heads, n_kv_heads, d_ff, max_len, d_head=None,
                 rope_base=10000.0, eps=1e-5, tie_embeddings=True):
        super().__init__()
        for name, v in (("vocab_size", vocab_size), ("d_model", d_model), ("n_layers", n_layers),
                        ("max_len", max_len)):
            validate.positive_int(v, name)
        self.vocab_size, self.d_model, self.max_len = vocab_size, d_model, max_len
        self.tie_embeddings = validate.flag(tie_embeddings, "tie_embeddings")
        self.tok_embed = nn.Embedding(vocab_size, d_model, _weight=torch.empty(vocab_size, d_model))
        if not self.tok_embed.weight.is_meta:  # a model built on the meta device, to be loaded, draws nothing
            nn.init.normal_(self.tok_embed.weight, std=0.02)  # small, as in GPT-2
        self.hook_embed = HookPoint()
        self.blocks = nn.ModuleList(
            LlamaBlock(d_model, n_heads, n_kv_heads, d_ff, d_head, rope_base, eps) for _ in range(n_layers)
        )
        self.ln_f = RMSNorm(d_model, eps)
        self.unembed = nn.Linear(d_model, vocab_size, bias=False)
        self.tie_weights()

    def tie_weights(self):
        """Make ``unembed.weight`` the very parameter ``tok_embed.weight`` (after loading weights, say)."""
        if self.tie_embeddings:
            self.unembed.weight = self.tok_embed.weight

    def embed(self, ids):
        """Token embeddings ``E = W_E[ids]``, ``(B, T, d_model)``."""
        validate.token_ids(ids, "ids", self.vocab_size)
        self._check_length(ids.shape[1])
        return self.hook_embed(self.tok_embed(ids))  # (B, T, d_model)

    def forward(self, ids):
        """Next-token logits ``(B, T, vocab_size)`` for ids ``(B, T)``."""
        return self.forward_embedded(self.embed(ids))

    def forward_embedded(self, E):
        """Logits ``(B, T, vocab_size)`` from token embeddings ``E (B, T, d_model)``."""
        validate.embedded(E, self.d_model, self.ln_f.weight)
        self._check_length(E.shape[1])
        x = E
        for block in self.blocks:
            x = block(x)  # (B, T, d_model)
        return self.unembed(self.ln_f(x))  # (B, T, vocab_size)

    def _check_length(self, T):
        if T == 0:
            raise ValueError("sequence length: expected at least one token (an empty prompt has none), got 0")
        if T > self.max_len:
            raise ValueError(f"sequence length: expected at most the context length max_len={self.max_len}, got {T}")

    @torch.no_grad()
    def generate(self, ids, max_new_tokens, temperature=1.0, top_k=None, generator=None, eos_id=None):
        """Append up to ``max_new_tokens`` tokens to ``ids (B, T)``; returns ``(B, T + n)``.

        Each step samples from ``softmax(logits / temperature)`` at the last position, among
        the ``top_k`` most likely tokens if given; ``temperature=0`` is greedy (argmax).
        Generation stops early once every row has produced ``eos_id`` (later tokens of a
        finished row are ``eos_id``). Beyond ``max_len`` tokens the context is the last ``max_len``.
        """
        validate.token_ids(ids, "ids", self.vocab_size)
        self._check_length(ids.shape[1])
        validate.positive_int(max_new_tokens, "max_new_tokens", minimum=0)
        temperature = validate.number(temperature, "temperature", minimum=0)
        if top_k is not None:
            top_k = min(validate.positive_int(top_k, "top_k"), self.vocab_size)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator: expected a torch.Generator, got {type(generator).__name__}")
        if eos_id is not None:
            validate.positive_int(eos_id, "eos_id", minimum=0)
            if eos_id >= self.vocab_size:
                raise ValueError(f"eos_id: expected an id in [0, {self.vocab_size}), got {eos_id}")
        done = torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)  # (B,)
        for _ in range(max_new_tokens):
            logits = self(ids[:, -self.max_len:])[:, -1]  # (B, vocab_size)
            if temperature == 0:
                nxt = logits.argmax(dim=-1)  # (B,)
            else:
                logits = logits / temperature
                if top_k is not None:
                    kth = logits.topk(top_k, dim=-1).values[:, -1:]  # (B, 1)
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                nxt = torch.multinomial(masked_softmax(logits), 1, generator=generator)[:, 0]  # (B,)
            if eos_id is not None:
                nxt = nxt.masked_fill(done, eos_id)
                done |= nxt == eos_id
            ids = torch.cat([ids, nxt[:, None].to(ids.dtype)], dim=1)  # (B, T + 1)
            if eos_id is not None and bool(done.all()):
                break
        return ids
