"""Multi-head attention with named intermediates, the same call as ``nn.MultiheadAttention``."""

import torch
from torch import nn

from llmxai import validate
from llmxai.hooks import HookPoint
from llmxai.nn.attention import attention_scores, masked_softmax


class MultiHeadAttention(nn.Module):
    """``MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O`` with
    ``head_i = softmax(Q W_i^Q (K W_i^K)^T / sqrt(d_head)) V W_i^V``.

    Vaswani et al. 2017 (arXiv:1706.03762), sec. 3.2.2. The four affine maps are the
    ``nn.Linear`` modules ``q_proj``, ``k_proj``, ``v_proj`` and ``out_proj``. Inputs are
    batch first, ``(B, T, d_model)``, as ``nn.MultiheadAttention(batch_first=True)``;
    there is no dropout (equal to torch's in eval mode or with ``dropout=0``).

    Hook points: ``hook_q``, ``hook_k``, ``hook_v`` ``(B, n_heads, T or S, d_head)``,
    ``hook_scores`` ``(B, n_heads, T, S)`` scaled and masked (``-inf``) before the softmax,
    ``hook_pattern`` the softmax weights, ``hook_z`` ``(B, n_heads, T, d_head)`` the heads'
    outputs before ``out_proj``. A hook returning ``hook_pattern``'s value detached keeps the
    forward value but lets gradients flow only through the values (CP-LRP).
    """

    def __init__(self, d_model, n_heads, bias=True):
        super().__init__()
        validate.positive_int(d_model, "d_model")
        validate.positive_int(n_heads, "n_heads")
        if d_model % n_heads:
            raise ValueError(f"d_model: expected a multiple of n_heads={n_heads}, got d_model={d_model}")
        self.d_model, self.n_heads, self.d_head = d_model, n_heads, d_model // n_heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d_model, d_model, bias=bias) for _ in range(4))
        for name in ("q", "k", "v", "scores", "pattern", "z"):
            setattr(self, f"hook_{name}", HookPoint())

    @classmethod
    def from_torch(cls, module):
        """Copy the weights of an ``nn.MultiheadAttention`` with ``kdim = vdim = embed_dim``.

        Ours is always batch first: for a torch module with ``batch_first=False``, pass
        ``(B, T, d_model)`` here where torch takes ``(T, B, d_model)``.
        """
        if not isinstance(module, nn.MultiheadAttention):
            raise TypeError(f"module: expected nn.MultiheadAttention, got {type(module).__name__}")
        if not module._qkv_same_embed_dim or module.bias_k is not None or module.add_zero_attn:
            raise ValueError("module: expected kdim = vdim = embed_dim, add_bias_kv=False and add_zero_attn=False")
        w = module.in_proj_weight
        ours = cls(module.embed_dim, module.num_heads, bias=module.in_proj_bias is not None).to(w.device, w.dtype)
        with torch.no_grad():
            for i, proj in enumerate((ours.q_proj, ours.k_proj, ours.v_proj)):
                proj.weight.copy_(w.chunk(3)[i])
                if proj.bias is not None:
                    proj.bias.copy_(module.in_proj_bias.chunk(3)[i])
            ours.out_proj.weight.copy_(module.out_proj.weight)
            if ours.out_proj.bias is not None:
                ours.out_proj.bias.copy_(module.out_proj.bias)
        return ours

    def forward(self, query, key, value, key_padding_mask=None, attn_mask=None,
                need_weights=True, average_attn_weights=True, is_causal=False):
        """Return ``(output (B, T, d_model), weights)``; weights are ``(B, T, S)`` averaged over
        heads, ``(B, n_heads, T, S)`` per head, or None when ``need_weights`` is False.

        Masks follow ``nn.MultiheadAttention``: ``key_padding_mask (B, S)`` and ``attn_mask``
        ``(T, S)`` or ``(B * n_heads, T, S)``; a boolean True means *not allowed*, a float
        mask is added to the scores. ``is_causal=True`` without ``attn_mask`` blocks later
        keys (torch requires the mask; given one, it is used as is). Unbatched 2-D inputs
        work as in torch. A query with every key blocked gets zero weights and output.
        """
        for name, flag in (("need_weights", need_weights), ("average_attn_weights", average_attn_weights),
                           ("is_causal", is_causal)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name}: expected a bool, got {type(flag).__name__}")
        validate.tensor(query, "query", ndim=(2, 3), floating=True)
        if query.dim() == 2:  # unbatched (T, d_model), as torch allows
            for name, t in (("key", key), ("value", value)):
                validate.tensor(t, name, ndim=2, floating=True)
            if isinstance(key_padding_mask, torch.Tensor) and key_padding_mask.dim() == 1:
                key_padding_mask = key_padding_mask[None]
            out, w = self.forward(query[None], key[None], value[None], key_padding_mask, attn_mask,
                                  need_weights, average_attn_weights, is_causal)
            return out[0], None if w is None else w[0]
        B, T, S = self._check_inputs(query, key, value)
        mask = self._mask(key_padding_mask, attn_mask, is_causal, B, T, S, query)

        q = self.hook_q(self._split(self.q_proj(query)))  # (B, n_heads, T, d_head)
        k = self.hook_k(self._split(self.k_proj(key)))  # (B, n_heads, S, d_head)
        v = self.hook_v(self._split(self.v_proj(value)))  # (B, n_heads, S, d_head)
        scores = self.hook_scores(attention_scores(q, k, mask))  # (B, n_heads, T, S)
        pattern = self.hook_pattern(masked_softmax(scores))  # (B, n_heads, T, S)
        z = self.hook_z(pattern @ v)  # (B, n_heads, T, d_head)
        out = self.out_proj(z.transpose(1, 2).reshape(B, T, self.d_model))  # (B, T, d_model)
        if not need_weights:
            return out, None
        return out, pattern.mean(dim=1) if average_attn_weights else pattern

    def _split(self, x):  # (B, T, d_model) -> (B, n_heads, T, d_head)
        return x.view(x.shape[0], x.shape[1], self.n_heads, self.d_head).transpose(1, 2)

    def _check_inputs(self, query, key, value):
        dtype = self.q_proj.weight.dtype
        for name, t in (("query", query), ("key", key), ("value", value)):
            validate.tensor(t, name, ndim=3, floating=True)
            if t.shape[-1] != self.d_model:
                raise ValueError(f"{name}: expected (B, T, {self.d_model}) (batch first), got {tuple(t.shape)}")
            if t.shape[1] == 0:
                raise ValueError(f"{name}: expected at least one position, got {tuple(t.shape)}")
            if t.dtype != dtype:
                raise TypeError(f"{name}: expected dtype {dtype} (the parameters' dtype), got {t.dtype}")
        validate.same_size(query.shape[0], key.shape[0], "key: batch size B of query")
        validate.same_size(query.shape[0], value.shape[0], "value: batch size B of query")
        validate.same_size(key.shape[1], value.shape[1], "value: number of keys S of key")
        return query.shape[0], query.shape[1], key.shape[1]

    def _mask(self, key_padding_mask, attn_mask, is_causal, B, T, S, query):
        """One mask broadcasting to ``(B, n_heads, T, S)``: boolean True = attend, or additive float."""
        if attn_mask is None and is_causal:
            attn_mask = torch.ones(T, S, dtype=torch.bool, device=query.device).triu(1)
        parts = []
        if attn_mask is not None:
            _check_mask(attn_mask, "attn_mask", [(T, S), (B * self.n_heads, T, S)])
            parts.append(attn_mask.view(B, self.n_heads, T, S) if attn_mask.dim() == 3 else attn_mask)
        if key_padding_mask is not None:
            _check_mask(key_padding_mask, "key_padding_mask", [(B, S)])
            parts.append(key_padding_mask[:, None, None, :])  # (B, 1, 1, S)
        if not parts:
            return None
        if all(p.dtype == torch.bool for p in parts):
            blocked = parts[0] if len(parts) == 1 else parts[0] | parts[1]
            return ~blocked
        inf = torch.tensor(float("-inf"), dtype=query.dtype, device=query.device)
        add = [torch.where(p, inf, torch.zeros_like(inf)) if p.dtype == torch.bool else p.to(query.dtype) for p in parts]
        return add[0] if len(add) == 1 else add[0] + add[1]


def _check_mask(mask, name, shapes):
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"{name}: expected a bool or float tensor, got {type(mask).__name__}")
    if mask.dtype != torch.bool and not mask.is_floating_point():
        raise TypeError(f"{name}: expected dtype torch.bool (True = blocked) or a float dtype, got {mask.dtype}")
    if tuple(mask.shape) not in shapes:
        raise ValueError(f"{name}: expected shape {' or '.join(map(str, shapes))}, got {tuple(mask.shape)}")
    if mask.is_floating_point() and bool(torch.isnan(mask).any()):
        raise ValueError(f"{name}: expected no NaN in an additive float mask")
