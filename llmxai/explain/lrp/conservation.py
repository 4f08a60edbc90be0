"""The conservation axiom of LRP as a function: per-layer relevance sums and what leaked between them."""

from dataclasses import dataclass

import torch

from llmxai import validate


@dataclass
class Conservation:
    """Relevance bookkeeping from the output down to the input.

    ``sums[k]`` (B,) is the total relevance at entry k; ``leaks[k] = sums[k] - sums[k+1]``
    is what the layer between them absorbed (bias, epsilon) or created;
    ``total_leak = sums[0] - sums[-1]``.
    """

    names: list
    sums: torch.Tensor  # (L, B)
    leaks: torch.Tensor  # (L - 1, B)
    total_leak: torch.Tensor  # (B,)

    def max_leak(self):
        """Largest absolute leak of any layer on any example, as a float."""
        return float(self.leaks.abs().max()) if self.leaks.numel() else 0.0


def conservation(relevances):
    """Per-layer sums sum_i R_i and leaks for relevances ordered output -> input (Bach et al. 2015).

    ``relevances`` is the dict that ``lrp(..., return_layers=True)`` returns, or a list
    of tensors, each (B, ...) with the same B.
    """
    if isinstance(relevances, dict):
        names, tensors = list(relevances), list(relevances.values())
    elif isinstance(relevances, (list, tuple)):
        names, tensors = [str(k) for k in range(len(relevances))], list(relevances)
    else:
        raise TypeError(f"relevances: expected a dict or list of tensors, got {type(relevances).__name__}")
    if len(tensors) < 2:
        raise ValueError(f"relevances: expected at least two entries (output and input), got {len(tensors)}")
    for name, R in zip(names, tensors):
        if not isinstance(R, torch.Tensor) or R.dim() < 1:
            raise TypeError(f"relevances[{name!r}]: expected a (B, ...) tensor, got {type(R).__name__}")
        if R.shape[0] != tensors[0].shape[0]:
            raise ValueError(f"relevances[{name!r}]: expected batch size {tensors[0].shape[0]}, got {R.shape[0]}")
        validate.tensor(R, f"relevances[{name!r}]", floating=True)
    sums = torch.stack([R.detach().reshape(R.shape[0], -1).sum(1) for R in tensors])  # (L, B)
    return Conservation(names, sums, sums[:-1] - sums[1:], sums[0] - sums[-1])
