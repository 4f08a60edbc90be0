"""Plumbing shared by the attribution methods: what to differentiate, and how to call the model.

Images and other float inputs are attributed as they are. Text models are given integer
token ids, which have no gradient, so attribution works on the token embeddings
``E = model.embed(ids)`` and the model is run as ``model.forward_embedded(E, **kwargs)``;
the attribution then has the embeddings' shape ``(B, T, d_model)`` and
:func:`token_scores` sums it to one score per token.

A model in training mode (dropout on, batch-norm using batch statistics) would make every
attribution random or mix the examples of a batch, so the methods switch it to eval mode
for the call, warn, and restore the mode afterwards, also when the call fails.
"""

import warnings
from contextlib import contextmanager

import torch

from llmxai import validate
from llmxai.explain.targets import repeat_target, select_target

PAD_ID = 0


@contextmanager
def eval_mode(model):
    """Run the body with ``model.eval()``, warning if it was training; restore the mode on exit."""
    was_training = model.training
    if was_training:
        warnings.warn("the model is in training mode; explaining it in eval mode for this call "
                      "(dropout off, batch-norm running statistics) and restoring training mode after",
                      UserWarning, stacklevel=3)
        model.eval()
    try:
        yield model
    finally:
        if was_training:
            model.train()


class Prepared:
    """The tensor ``x`` to attribute, and ``forward(x, times=1)`` that runs the model on it.

    ``times`` > 1 means ``x`` is ``times`` stacked copies of a batch (interpolation steps,
    noisy samples): tensor keyword arguments with a leading batch dimension are repeated.
    """

    def __init__(self, model, inputs, kwargs):
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
        validate.tensor(inputs, "inputs", min_ndim=1)
        self.model, self.kwargs, self.ids = model, kwargs, None
        if inputs.is_floating_point():
            self.x, self._run = inputs.detach(), model
            return
        if not (hasattr(model, "embed") and hasattr(model, "forward_embedded")):
            raise TypeError(f"inputs: integer token ids need a text model with embed() and forward_embedded(); "
                            f"{type(model).__name__} has no such methods, so pass a floating-point tensor")
        if getattr(model, "vocab_size", None) is not None:
            validate.token_ids(inputs, "inputs", model.vocab_size)
        else:
            validate.tensor(inputs, "inputs", ndim=2, floating=False)
        self.ids = inputs
        with torch.no_grad():
            self.x = model.embed(inputs).detach()  # (B, T, d_model)
        self._run = model.forward_embedded

    @property
    def B(self):
        return self.x.shape[0]

    def forward(self, x, times=1):
        kwargs = {k: (v.repeat(times, *[1] * (v.dim() - 1))
                      if isinstance(v, torch.Tensor) and v.dim() and v.shape[0] == self.B else v)
                  for k, v in self.kwargs.items()}
        return self._run(x, **kwargs)

    def baseline(self, baseline):
        """The reference input x' for path methods: None/'zero', 'pad', or a tensor."""
        if baseline is None or (isinstance(baseline, str) and baseline == "zero"):
            return torch.zeros_like(self.x)
        if isinstance(baseline, str):
            validate.choice(baseline, "baseline", {"zero", "pad"})
            if self.ids is None:
                raise ValueError("baseline='pad' needs integer token ids and a text model; "
                                 "for float inputs give 'zero' or a tensor")
            with torch.no_grad():
                return self.model.embed(torch.full_like(self.ids, PAD_ID)).detach()
        validate.tensor(baseline, "baseline", min_ndim=1)
        if not baseline.is_floating_point():
            if self.ids is None or baseline.shape != self.ids.shape:
                want = tuple(self.ids.shape) if self.ids is not None else "none (float inputs)"
                raise ValueError(f"baseline: integer baseline ids must have the ids' shape {want}, "
                                 f"got {tuple(baseline.shape)}")
            with torch.no_grad():
                return self.model.embed(baseline).detach()
        if baseline.shape == self.x.shape:
            return baseline.detach().to(self.x.dtype)
        if baseline.shape == self.x.shape[1:]:
            return baseline.detach().to(self.x.dtype).expand_as(self.x)
        raise ValueError(f"baseline: expected shape {tuple(self.x.shape)} (or {tuple(self.x.shape[1:])} "
                         f"for one baseline shared by the batch), got {tuple(baseline.shape)}")

    def output(self, x, times=1):
        with torch.no_grad():
            return self.forward(x, times)


def gradient(prepared, x, target, times=1):
    """d y / d x for the ``(B,)`` target scalars, on the points ``x`` (``times`` stacked batches)."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        y = select_target(prepared.forward(x, times), repeat_target(target, times))  # (times * B,)
        (grad,) = torch.autograd.grad(y.sum(), x)
    return grad


def token_scores(attributions, how="sum"):
    """One score per token from an embedding attribution ``(B, T, d_model)``: its sum over ``d_model``.

    The sum suits attributions that add up to an output change (gradient x input, IG). A raw
    gradient's sum can vanish (a LayerNorm on the embedding makes the gradient orthogonal to
    the all-ones vector), so for saliency and SmoothGrad ``how='norm'`` gives the L2 norm.
    """
    validate.tensor(attributions, "attributions", ndim=(2, 3), floating=True, finite=False)
    validate.choice(how, "how", {"sum", "norm"})
    return attributions.sum(-1) if how == "sum" else attributions.norm(dim=-1)
