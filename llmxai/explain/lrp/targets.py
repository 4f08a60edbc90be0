"""Which output an explanation explains: the target resolver used by ``lrp``.

A local stand-in for the shared resolver in ``llmxai.explain`` (to be unified).
"""

import torch


def target_scores(output, target):
    """Scores (B,) picked from ``output`` by ``target``.

    ``target`` is a class index (int), a (B,) tensor of class indices, a
    ``(position, token)`` pair for language-model logits (B, T, V), or a callable
    ``f(output) -> (B,)``.
    """
    if not isinstance(output, torch.Tensor) or output.dim() < 2:
        got = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise ValueError(f"model output: expected a (B, n_classes) or (B, T, V) tensor, got {got}")
    B, C = output.shape[0], output.shape[-1]
    if callable(target):
        s = target(output)
        if not isinstance(s, torch.Tensor) or s.shape != (B,):
            got = tuple(s.shape) if isinstance(s, torch.Tensor) else type(s).__name__
            raise ValueError(f"target: the callable must return a ({B},) tensor of scores, got {got}")
        return s
    if isinstance(target, tuple):
        if output.dim() != 3 or len(target) != 2:
            raise ValueError(f"target: a (position, token) pair needs (B, T, V) logits, got output {tuple(output.shape)} and target {target!r}")
        pos, tok = target
        T = output.shape[1]
        if not isinstance(pos, int) or not -T <= pos < T:
            raise ValueError(f"target position: expected an int in [-{T}, {T}), got {pos!r}")
        return target_scores(output[:, pos], tok)
    if output.dim() != 2:
        raise ValueError(f"target: for (B, T, V) logits give (position, token) or a callable, got {target!r}")
    if isinstance(target, bool) or not isinstance(target, (int, torch.Tensor)):
        raise TypeError(f"target: expected an int, a (B,) tensor of indices or a callable, got {type(target).__name__}")
    if isinstance(target, int):
        idx = torch.full((B,), target, dtype=torch.long, device=output.device)
    else:
        if target.shape != (B,) or target.is_floating_point():
            raise ValueError(f"target: expected a ({B},) integer tensor, got shape {tuple(target.shape)} and dtype {target.dtype}")
        idx = target.to(output.device).long()
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= C):
        raise ValueError(f"target: expected class indices in [0, {C}), got values from {int(idx.min())} to {int(idx.max())}")
    return output.gather(1, idx[:, None])[:, 0]
