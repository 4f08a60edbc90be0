"""Turn a model output and a ``target`` into one scalar per batch element.

Every attribution method explains a scalar. ``target`` says which one:

- ``None``: the output itself, when it already is one number per example, ``(B,)`` or ``(B, 1)``;
- an int ``c`` or a ``(B,)`` integer tensor: the logit of class ``c`` in a ``(B, C)`` output;
- a pair ``(position, token)``: the logit of ``token`` at ``position`` in a language
  model's ``(B, T, V)`` output (``position`` may be negative, ``-1`` is the last);
- a callable ``output -> (B,)`` tensor, for anything else (a logit difference, a loss).

The chosen scalars must be finite: a NaN or infinite target would make every attribution
NaN (or silently zero), so it is an error that names the rows.
"""

import torch


def _check_index(value, name, size, what="an index"):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an int, a (position, token) pair, a (B,) tensor or a callable, "
                        f"got {type(value).__name__}")
    if not 0 <= value < size:
        raise ValueError(f"{name}: expected {what} in [0, {size}), got {value}")
    return value


def _class_indices(target, B, C, device):
    if isinstance(target, torch.Tensor):
        if target.dim() != 1 or target.shape[0] != B or target.is_floating_point() or target.dtype == torch.bool:
            raise ValueError(f"target: expected an int or a ({B},) integer tensor of class indices, "
                             f"got a tensor of shape {tuple(target.shape)} and dtype {target.dtype}")
        if B and (int(target.min()) < 0 or int(target.max()) >= C):
            raise ValueError(f"target: expected class indices in [0, {C}), "
                             f"got values from {int(target.min())} to {int(target.max())}")
        # A tensor made under torch.inference_mode() cannot be saved for backward; a copy can.
        return (target.clone() if target.is_inference() else target).to(device)
    _check_index(target, "target", C, what="a class index")
    return torch.full((B,), target, dtype=torch.long, device=device)


def select_target(output, target):
    """Return the ``(B,)`` scalars that ``target`` picks out of ``output`` (see module doc)."""
    return _finite(_select(output, target))


def _finite(y):
    if y.is_floating_point() and y.numel() and not bool(torch.isfinite(y.detach()).all()):
        rows = (~torch.isfinite(y.detach())).nonzero()[:, 0].tolist()
        raise ValueError(f"target: expected a finite score for every row, got NaN or infinity in rows {rows[:10]} "
                         f"(values {y.detach()[rows[:3]].tolist()}); check the model's output and the target")
    return y


def _select(output, target):
    if not isinstance(output, torch.Tensor):
        raise TypeError(f"model output: expected a torch.Tensor, got {type(output).__name__}")
    B = output.shape[0] if output.dim() else 0
    if callable(target) and not isinstance(target, torch.Tensor):
        y = target(output)
        if not isinstance(y, torch.Tensor) or y.shape != (B,):
            got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise ValueError(f"target: a callable must return one score per row, a ({B},) tensor, got {got}")
        if not y.is_floating_point():
            raise TypeError(f"target: a callable must return floating-point scores, got dtype {y.dtype}")
        return y
    if target is None:
        if output.dim() == 1 or (output.dim() == 2 and output.shape[1] == 1):
            return output.reshape(B)
        raise ValueError(f"target: None only works for outputs of shape (B,) or (B, 1); the output has shape "
                         f"{tuple(output.shape)}, so give a class index, a (position, token) pair or a callable")
    if isinstance(target, tuple):
        if output.dim() != 3 or len(target) != 2:
            raise ValueError(f"target: a (position, token) pair needs a (B, T, V) language-model output "
                             f"and two ints; got {target!r} for output shape {tuple(output.shape)}")
        _, T, V = output.shape
        position, token = target
        if isinstance(position, bool) or not isinstance(position, int) or not -T <= position < T:
            raise ValueError(f"target position: expected an int in [{-T}, {T}), got {position!r}")
        _check_index(token, "target token", V)
        return output[:, position, token]
    if output.dim() != 2:
        raise ValueError(f"target: a class index needs a (B, C) output, got shape {tuple(output.shape)}; "
                         f"for a language model give (position, token)")
    index = _class_indices(target, B, output.shape[1], output.device)
    return output.gather(1, index[:, None]).squeeze(1)


def repeat_target(target, times):
    """The target for a batch made of ``times`` stacked copies of the original batch."""
    if isinstance(target, torch.Tensor) and target.dim() == 1:
        return target.repeat(times)
    return target
