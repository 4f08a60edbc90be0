"""Loss functions from tensor operations: mean squared error and cross-entropy.

Cross-entropy is computed from a stable log-softmax (the log-sum-exp trick), so huge
logits neither overflow nor lose the small probabilities.
"""

import torch

from llmxai import validate


def log_softmax(logits, dim=-1):
    """``log p_i = z_i - log sum_j exp(z_j)``, computed as ``z_i - m - log sum_j exp(z_j - m)``
    with ``m = max_j z_j`` so no exponential exceeds 1."""
    validate.tensor(logits, "logits", min_ndim=1, floating=True)
    m = logits.amax(dim=dim, keepdim=True).detach()  # a constant shift: changes no value, no gradient
    shifted = logits - m
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))


def softmax(logits, dim=-1):
    """``p_i = exp(z_i) / sum_j exp(z_j)``, computed stably; rows sum to one."""
    return torch.exp(log_softmax(logits, dim))


def mse(pred, y):
    """Mean squared error ``(1/N) sum_i (pred_i - y_i)^2`` over every element."""
    validate.tensor(pred, "pred", floating=True)
    validate.tensor(y, "y", floating=True)
    if pred.shape != y.shape:
        raise ValueError(f"pred and y: expected the same shape, got {tuple(pred.shape)} and {tuple(y.shape)}")
    if pred.numel() == 0:
        raise ValueError("pred: expected at least one element, got an empty tensor")
    return ((pred - y) ** 2).mean()


def cross_entropy(logits, y):
    """Mean cross-entropy ``-(1/B) sum_b log softmax(z_b)[y_b]`` for logits ``(B, C)`` (or ``(C,)``)
    and class indices ``y`` ``(B,)`` (or a 0-D tensor), as :func:`torch.nn.functional.cross_entropy`."""
    validate.tensor(logits, "logits", ndim=(1, 2), floating=True)
    validate.tensor(y, "y", ndim=logits.dim() - 1, floating=False)
    C = logits.shape[-1]
    if C == 0:
        raise ValueError(f"logits: expected at least one class, got shape {tuple(logits.shape)}")
    if logits.dim() == 2:
        if logits.shape[0] == 0:
            raise ValueError("logits: expected at least one row, got an empty batch")
        validate.same_size(logits.shape[0], y.shape[0], "batch size of y (must match logits' B)")
    if int(y.min()) < 0 or int(y.max()) >= C:
        raise ValueError(f"y: expected class indices in [0, {C}), got values from {int(y.min())} to {int(y.max())}")
    logp = log_softmax(logits)  # (B, C)
    return -logp.gather(-1, y.unsqueeze(-1)).mean()
