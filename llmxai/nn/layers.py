"""Layer normalisation and the position-wise feed-forward network, from tensor operations."""

import math

import torch
from torch import nn

from llmxai import validate
from llmxai.hooks import HookPoint


class LayerNorm(nn.Module):
    """Normalise each feature vector to zero mean and unit variance, then scale and shift.

    ``y = (x - mu) / sqrt(sigma^2 + eps) * weight + bias``, with ``mu`` and the biased
    variance ``sigma^2`` taken over the last axis (Ba, Kiros and Hinton 2016, "Layer
    Normalization", arXiv:1607.06450, sec. 3). Parameters carry ``nn.LayerNorm``'s names.

    Hook point ``hook_scale``: ``sqrt(sigma^2 + eps)`` ``(..., 1)``. A hook that returns it
    detached holds it constant in the backward pass (the forward value is unchanged), which
    makes the layer linear in ``x`` for relevance (CP-LRP, Ali et al. 2022, ICML, arXiv:2202.07304).
    """

    def __init__(self, d, eps=1e-5):
        super().__init__()
        validate.positive_int(d, "d")
        self.d, self.eps = d, validate.number(eps, "eps", above=0)
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d))
        self.hook_scale = HookPoint()

    @classmethod
    def from_torch(cls, module):
        """Copy an ``nn.LayerNorm`` over one trailing dimension with affine parameters."""
        if not isinstance(module, nn.LayerNorm):
            raise TypeError(f"module: expected nn.LayerNorm, got {type(module).__name__}")
        shape = tuple(module.normalized_shape)
        if len(shape) != 1 or module.weight is None or module.bias is None:
            raise ValueError(
                "module: expected nn.LayerNorm(d) with elementwise_affine=True and bias=True, "
                f"got normalized_shape={shape}, weight={module.weight is not None}, bias={module.bias is not None}"
            )
        ours = cls(shape[0], module.eps).to(module.weight.device, module.weight.dtype)
        with torch.no_grad():
            ours.weight.copy_(module.weight)
            ours.bias.copy_(module.bias)
        return ours

    def forward(self, x):  # x: (..., d)
        validate.features(x, self.d, self.weight.dtype)
        mu = x.mean(dim=-1, keepdim=True)  # (..., 1)
        centred = x - mu  # (..., d)
        std = self.hook_scale(torch.sqrt(centred.pow(2).mean(dim=-1, keepdim=True) + self.eps))  # (..., 1)
        return centred / std * self.weight + self.bias  # (..., d)

    def extra_repr(self):
        return f"{self.d}, eps={self.eps}"


def gelu(x):
    """Gaussian error linear unit ``x * Phi(x) = x/2 * (1 + erf(x / sqrt 2))`` (Hendrycks and Gimpel 2016, arXiv:1606.08415)."""
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


_ACTIVATIONS = {"relu": torch.relu, "gelu": gelu}


class FeedForward(nn.Module):
    """Position-wise feed-forward network ``FFN(x) = act(x W_1^T + b_1) W_2^T + b_2``.

    Vaswani et al. 2017 (arXiv:1706.03762), eq. 2, with ReLU or GELU. The two affine
    maps are ``linear1`` (d_model -> d_ff) and ``linear2`` (d_ff -> d_model), as in
    ``nn.TransformerEncoderLayer``; ``hook_hidden`` marks the activated hidden units.
    """

    def __init__(self, d_model, d_ff, activation="relu"):
        super().__init__()
        validate.positive_int(d_model, "d_model")
        validate.positive_int(d_ff, "d_ff")
        self.activation = validate.choice(activation, "activation", set(_ACTIVATIONS))
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.hook_hidden = HookPoint()

    def forward(self, x):  # x: (..., d_model)
        validate.features(x, self.linear1.in_features, self.linear1.weight.dtype)
        h = self.hook_hidden(_ACTIVATIONS[self.activation](self.linear1(x)))  # (..., d_ff)
        return self.linear2(h)  # (..., d_model)
