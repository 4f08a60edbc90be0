"""Helpers shared by the perturbation methods and the metrics: targets, batched scoring, eval mode.

A minimal local target resolver; the lead unifies it with ``llmxai.explain.targets``.
"""

import warnings
from contextlib import contextmanager

import torch

from llmxai import validate


def score(output, target, probability=False):
    """One number per row of ``output`` for ``target``: ``(B,)``.

    ``target`` is an int class index (classifier output ``(B, C)``), a ``(position, token)``
    pair (language-model output ``(B, T, V)``), a ``(B,)`` tensor of class indices, or a
    callable ``output -> (B,)``. ``probability`` takes the softmax over the last axis first
    (ignored for a callable, which chooses for itself).
    """
    if callable(target):
        s = target(output)
        if not isinstance(s, torch.Tensor) or s.shape != output.shape[:1]:
            got = tuple(s.shape) if isinstance(s, torch.Tensor) else type(s).__name__
            raise ValueError(f"target: a callable must return one score per row, shape {tuple(output.shape[:1])}, got {got}")
        return s
    if probability:
        output = output.softmax(-1)
    if isinstance(target, tuple):
        if output.dim() != 3 or len(target) != 2:
            raise ValueError(f"target: a (position, token) pair needs LM logits (B, T, V), got {tuple(output.shape)} and {target}")
        pos, tok = target
        T, V = output.shape[1:]
        if not -T <= pos < T or not 0 <= tok < V:
            raise ValueError(f"target: expected position in [-{T}, {T}) and token in [0, {V}), got {target}")
        return output[:, pos, tok]
    if output.dim() != 2:
        raise ValueError(f"target: a class index needs classifier output (B, C), got {tuple(output.shape)}; "
                         "for a language model give (position, token) or a callable")
    C = output.shape[1]
    if isinstance(target, torch.Tensor):
        validate.tensor(target, "target", ndim=1, floating=False)
        validate.same_size(output.shape[0], target.shape[0], "target: batch size")
        if target.numel() and (int(target.min()) < 0 or int(target.max()) >= C):
            raise ValueError(f"target: expected class indices in [0, {C}), got {target.tolist()}")
        return output.gather(1, target.to(output.device)[:, None])[:, 0]
    if isinstance(target, bool) or not isinstance(target, int):
        raise TypeError(f"target: expected an int, a (position, token) pair, a (B,) tensor or a callable, "
                        f"got {type(target).__name__}")
    if not 0 <= target < C:
        raise ValueError(f"target: expected a class index in [0, {C}), got {target}")
    return output[:, target]


def row_target(target, b):
    """The target of sample ``b`` alone, for scoring many perturbed copies of that sample."""
    if isinstance(target, torch.Tensor):
        validate.tensor(target, "target", ndim=1, floating=False)
        return int(target[b])
    return target


def check_target_batch(target, B):
    if isinstance(target, torch.Tensor):
        validate.tensor(target, "target", ndim=1, floating=False)
        validate.same_size(B, target.shape[0], "target: batch size")


@torch.no_grad()
def batched_scores(model, X, target, batch_size=64, probability=False):
    """Scores of ``model`` on the rows of ``X`` for one sample's ``target``, ``batch_size`` rows at a time: ``(N,)``."""
    validate.positive_int(batch_size, "batch_size")
    return torch.cat([score(model(X[i:i + batch_size]), target, probability)
                      for i in range(0, X.shape[0], batch_size)])


@contextmanager
def eval_mode(model):
    """Run ``model`` in eval mode; a model left in training mode is switched with a warning and restored."""
    was_training = model.training
    if was_training:
        warnings.warn("model is in training mode (dropout would make explanations random); "
                      "switching to eval mode for this call", UserWarning, stacklevel=3)
        model.eval()
    try:
        yield model
    finally:
        if was_training:
            model.train()


def check_inputs(inputs, name="inputs"):
    """Token ids ``(B, T)`` or a floating tensor ``(B, ...)``; return whether they are token ids."""
    validate.tensor(inputs, name, min_ndim=2)
    is_ids = not inputs.is_floating_point()
    if is_ids:
        validate.tensor(inputs, name, ndim=2, floating=False)
    if inputs.shape[0] == 0 or inputs[0].numel() == 0:
        raise ValueError(f"{name}: expected at least one sample and one feature, got shape {tuple(inputs.shape)}")
    return is_ids


def replacement(inputs, baseline, name="baseline"):
    """The value each feature takes when removed, shaped like ``inputs``.

    For token ids ``baseline`` is a replacement id (default padding id 0); for floats a
    number or a tensor shaped like one sample or like ``inputs``.
    """
    if isinstance(baseline, torch.Tensor):
        if baseline.shape not in (inputs.shape, inputs.shape[1:]):
            raise ValueError(f"{name}: expected shape {tuple(inputs.shape)} or {tuple(inputs.shape[1:])}, "
                             f"got {tuple(baseline.shape)}")
        if baseline.is_floating_point() != inputs.is_floating_point():
            raise TypeError(f"{name}: expected dtype like inputs ({inputs.dtype}), got {baseline.dtype}")
        return baseline.to(inputs.device, inputs.dtype).expand_as(inputs)
    if isinstance(baseline, bool) or not isinstance(baseline, (int, float)):
        raise TypeError(f"{name}: expected a number or a tensor, got {type(baseline).__name__}")
    if not inputs.is_floating_point() and not isinstance(baseline, int):
        raise TypeError(f"{name}: token ids need an int replacement id, got {baseline!r}")
    return torch.full_like(inputs, baseline)
