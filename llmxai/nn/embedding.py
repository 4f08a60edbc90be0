"""Token embeddings: a lookup table that is a one-hot vector times a matrix.

``Embedding(x) = W_e^T x`` for a one-hot ``x``: multiplying a one-hot row vector by
``W_e (V, d_model)`` selects one row, so the lookup ``W_e[id]`` is that product
without the multiplications by zero (Mikolov et al. 2013, arXiv:1301.3781, use the
same view of a projection layer).
"""

import torch
from torch import nn

from llmxai import validate


def one_hot(ids, vocab_size, dtype=None):
    """One-hot vectors ``(..., V)`` for integer ``ids`` (float, so ``one_hot(ids) @ W_e`` is the lookup)."""
    validate.positive_int(vocab_size, "vocab_size")
    validate.token_ids(ids, "ids", vocab_size, ndim=(1, 2))
    dtype = torch.get_default_dtype() if dtype is None else dtype
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype: expected a floating torch.dtype such as torch.float32, got {dtype!r}")
    eye = torch.arange(vocab_size, device=ids.device)
    return (ids[..., None] == eye).to(dtype)  # (B, T, V)


class Embedding(nn.Module):
    """Lookup table ``weight (V, d_model)``; ``forward(ids (B, T)) -> (B, T, d_model)``.

    With ``padding_idx`` set, that row starts at zero and gets no gradient, as in
    :class:`torch.nn.Embedding`.
    """

    def __init__(self, vocab_size, d_model, padding_idx=None):
        super().__init__()
        self.vocab_size = validate.positive_int(vocab_size, "vocab_size")
        self.d_model = validate.positive_int(d_model, "d_model")
        if padding_idx is not None:
            validate.positive_int(padding_idx, "padding_idx", minimum=0)
            if padding_idx >= vocab_size:
                raise ValueError(f"padding_idx: expected a value in [0, {vocab_size}), got {padding_idx}")
        self.padding_idx = padding_idx
        self.weight = nn.Parameter(torch.randn(vocab_size, d_model))  # (V, d_model), N(0, 1) as torch
        if padding_idx is not None:
            with torch.no_grad():
                self.weight[padding_idx].zero_()

    def forward(self, ids):
        validate.token_ids(ids, "ids", self.vocab_size, ndim=(1, 2))
        E = self.weight[ids]  # (B, T, d_model)
        if self.padding_idx is not None:
            # Detaching the padding rows keeps their values but stops their gradient.
            pad = (ids == self.padding_idx)[..., None]  # (B, T, 1)
            E = torch.where(pad, E.detach(), E)
        return E

    @classmethod
    def from_torch(cls, module):
        """Copy an :class:`torch.nn.Embedding` (weights, dtype, device, padding index)."""
        if not isinstance(module, nn.Embedding):
            raise TypeError(f"module: expected torch.nn.Embedding, got {type(module).__name__}")
        V, d = module.weight.shape
        ours = cls(V, d, padding_idx=module.padding_idx).to(module.weight.device, module.weight.dtype)
        with torch.no_grad():
            ours.weight.copy_(module.weight)
        return ours

    def extra_repr(self):
        return f"{self.vocab_size}, {self.d_model}, padding_idx={self.padding_idx}"
