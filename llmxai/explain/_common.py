"""Helpers shared by the perturbation methods and the metrics: targets, batched scoring, eval mode.

Targets are resolved by :func:`llmxai.explain.targets.select_target`, like every other method.

What "removed" means for token ids: the token's id is replaced by the baseline id (the
padding id 0 by default) and the sequence keeps its length. A model that reads its lengths
off the padding (it has ``lengths(ids)``, as the Transformer classifiers do) is given the
lengths of the unperturbed ids, so a removed token is neither taken for the end of the
sequence nor refused as padding in the middle: the model sees the padding embedding at that
position and still attends to it, as with a padding baseline whose attention mask is kept
apart from the ids (the usual choice for BERT-style models in Captum).
"""

import inspect

import torch

from llmxai import validate
from llmxai.explain._inputs import eval_mode, usable  # noqa: F401  (re-exported for the perturbation methods)
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
def batched_scores(model, X, target, batch_size=64, probability=False, length=None):
    """Scores of ``model`` on the rows of ``X`` for one sample's ``target``, ``batch_size`` rows at a time: ``(N,)``.

    ``length`` (a 0-d tensor) is the unperturbed sample's length, passed to every row.
    """
    validate.positive_int(batch_size, "batch_size")
    scores = []
    for i in range(0, X.shape[0], batch_size):
        chunk = X[i:i + batch_size]
        out = model(chunk) if length is None else model(chunk, lengths=length.reshape(1).expand(chunk.shape[0]))
        scores.append(score(out, target, probability))
    return torch.cat(scores)


def check_model(model):
    """A module whose forward takes the inputs alone (perturbation methods call ``model(inputs)``)."""
    validate.module(model)
    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        return model
    needed = [p.name for p in params[1:]
              if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if needed:
        raise TypeError(f"model: expected a model called as model(inputs), but {type(model).__name__}.forward also "
                        f"needs {needed}; wrap it in a module that fixes them")
    return model


def check_inputs(inputs, model=None, name="inputs"):
    """Token ids ``(B, T)`` or a floating tensor ``(B, ...)``; return whether they are token ids."""
    if model is not None:
        check_model(model)
    validate.tensor(inputs, name, min_ndim=2)
    is_ids = not inputs.is_floating_point()
    if is_ids:
        validate.tensor(inputs, name, ndim=2, floating=False)
        if isinstance(getattr(model, "vocab_size", None), int):
            validate.token_ids(inputs, name, model.vocab_size)
    if inputs.shape[0] == 0 or inputs[0].numel() == 0:
        raise ValueError(f"{name}: expected at least one sample and one feature, got shape {tuple(inputs.shape)}")
    return is_ids


def lengths_of(model, inputs, is_ids):
    """The unperturbed lengths ``(B,)`` for a model that reads them off the padding, else None (module doc)."""
    if not is_ids or not callable(getattr(model, "lengths", None)):
        return None
    return model.lengths(inputs)


def replacement(inputs, baseline, name="baseline", vocab_size=None):
    """The value each feature takes when removed, shaped like ``inputs``.

    For token ids ``baseline`` is a replacement id (default padding id 0); for floats a
    finite number or a tensor shaped like one sample or like ``inputs``.
    """
    if isinstance(baseline, torch.Tensor):
        if baseline.shape not in (inputs.shape, inputs.shape[1:]):
            raise ValueError(f"{name}: expected shape {tuple(inputs.shape)} or {tuple(inputs.shape[1:])}, "
                             f"got {tuple(baseline.shape)}")
        if baseline.is_floating_point() != inputs.is_floating_point():
            raise TypeError(f"{name}: expected dtype like inputs ({inputs.dtype}), got {baseline.dtype}")
        validate.tensor(baseline, name)
        if not inputs.is_floating_point() and isinstance(vocab_size, int):
            validate.token_ids(baseline.reshape(1, -1), name, vocab_size)
        return usable(baseline).to(inputs.device, inputs.dtype).expand_as(inputs)
    if isinstance(baseline, bool) or not isinstance(baseline, (int, float)):
        raise TypeError(f"{name}: expected a number or a tensor, got {type(baseline).__name__}")
    if not inputs.is_floating_point():
        if not isinstance(baseline, int):
            raise TypeError(f"{name}: token ids need an int replacement id, got {baseline!r}")
        top = vocab_size if isinstance(vocab_size, int) else None
        if baseline < 0 or (top is not None and baseline >= top):
            raise ValueError(f"{name}: expected a token id in [0, {top if top else 'vocab_size'}), got {baseline}")
    else:
        validate.number(baseline, name)
    return torch.full_like(inputs, baseline)
