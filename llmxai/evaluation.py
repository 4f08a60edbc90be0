"""Measuring a model on held-out data: accuracy and mean loss, in eval mode, without gradients."""

import torch

from llmxai import validate
from llmxai.train import IGNORE_INDEX, _batches, _check_data, _to_device, cross_entropy_loss


def _eval_batches(model, data, batch_size, device):
    """Yield the batches of ``data = (inputs..., target)`` on ``device``, with ``model`` in eval mode and no gradients."""
    kind, _ = _check_data(data)
    if kind != "tensors":
        raise TypeError(f"data: expected a tuple of tensors (inputs..., target), got {type(data).__name__}")
    validate.positive_int(batch_size, "batch_size")
    if device is None:
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for batch in _batches("tensors", tuple(data), batch_size, None, shuffle=False):
                yield _to_device(batch, device)
    finally:
        model.train(was_training)


def _batched_outputs(model, data, batch_size, device):
    """Yield ``(model(*inputs), target)`` over ``data = (inputs..., target)`` without gradients."""
    for *inputs, target in _eval_batches(model, data, batch_size, device):
        yield model(*inputs), target


def accuracy(model, data, *, batch_size=256, device=None):
    """Fraction of correct argmax predictions on ``data = (inputs..., target)``.

    Works for classifiers (``(B, C)`` logits, ``(B,)`` targets) and per-token predictions
    (``(B, T, V)`` logits, ``(B, T)`` targets, entries ``-100`` skipped).
    """
    correct, counted = 0, 0
    for logits, target in _batched_outputs(model, data, batch_size, device):
        keep = target != IGNORE_INDEX
        correct += int(((logits.argmax(-1) == target) & keep).sum())
        counted += int(keep.sum())
    if counted == 0:
        raise ValueError("data: expected at least one target that is not -100, got none")
    return correct / counted


def mean_loss(model, data, *, loss_fn=None, batch_size=256, device=None):
    """Loss on ``data = (inputs..., target)``, averaged over batches weighted by their size."""
    loss_fn = cross_entropy_loss if loss_fn is None else loss_fn
    total, n = 0.0, 0
    for batch in _eval_batches(model, data, batch_size, device):
        total += float(loss_fn(model, batch)) * batch[0].shape[0]
        n += batch[0].shape[0]
    return total / n
