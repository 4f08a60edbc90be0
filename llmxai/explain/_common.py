"""Helpers shared by the perturbation methods and the metrics: targets, batched scoring, eval mode.

Targets are resolved by :func:`llmxai.explain.targets.select_target`, like every other method.
"""


import torch

from llmxai import validate
from llmxai.explain._inputs import eval_mode  # noqa: F401  (re-exported for the perturbation methods)
from llmxai.explain.targets import select_target


def score(output, target, probability=False):
    """One number per row of ``output`` for ``target``: ``(B,)`` (see :mod:`llmxai.explain.targets`).

    ``probability`` takes the softmax over the last axis first (ignored for a callable,
    which chooses for itself).
    """
    if probability and not callable(target):
        output = output.softmax(-1)
    return select_target(output, target)


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
