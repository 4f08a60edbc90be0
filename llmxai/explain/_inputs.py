"""Plumbing shared by the attribution methods: what to differentiate, and how to call the model.

Images and other float inputs are attributed as they are. Text models are given integer
token ids, which have no gradient, so attribution works on the token embeddings
``E = model.embed(ids)`` and the model is run as ``model.forward_embedded(E, **kwargs)``;
the attribution then has the embeddings' shape ``(B, T, d_model)`` and
:func:`token_scores` sums it to one score per token.

A model in training mode (dropout on, batch-norm using batch statistics) would make every
attribution random or mix the examples of a batch, so the methods switch every submodule to
eval mode for the call, warn, and restore each submodule's own mode afterwards, also when the
call fails (a frozen batch-norm inside a training model stays frozen). Inside
``torch.inference_mode()`` autograd is off; the methods turn it back on for the call, which
torch allows, so that gradients exist.
"""

import inspect
import warnings
from contextlib import contextmanager

import torch

from llmxai import validate
from llmxai.explain.targets import repeat_target, select_target

PAD_ID = 0


@contextmanager
def eval_mode(model):
    """Run the body with every submodule in eval mode and autograd allowed; restore each mode on exit.

    Warns when any submodule was training, naming the first few.
    """
    validate.module(model)
    modes = [(m, m.training) for m in model.modules()]
    training = [name or "(the model)" for name, m in model.named_modules() if m.training]
    if training:
        shown = ", ".join(training[:3]) + (f" and {len(training) - 3} more" if len(training) > 3 else "")
        warnings.warn(f"the model is in training mode ({shown}); explaining it in eval mode for this call "
                      "(dropout off, batch-norm running statistics) and restoring each module's mode after",
                      UserWarning, stacklevel=3)
        model.eval()
    try:
        with torch.inference_mode(False):
            yield model
    finally:
        for m, mode in modes:
            m.training = mode


def usable(t):
    """``t``, or a copy of it when it was made under ``torch.inference_mode()`` (autograd refuses those)."""
    if isinstance(t, torch.Tensor) and t.is_inference():
        with torch.inference_mode(False):
            return t.clone()
    return t


class Prepared:
    """The tensor ``x`` to attribute, and ``forward(x, times=1)`` that runs the model on it.

    ``times`` > 1 means ``x`` is ``times`` stacked copies of a batch (interpolation steps,
    noisy samples): tensor keyword arguments with a leading batch dimension are repeated.
    """

    def __init__(self, model, inputs, kwargs, method=None):
        validate.module(model)
        validate.tensor(inputs, "inputs", min_ndim=1)
        if inputs.shape[0] == 0 or inputs.numel() == 0:
            raise ValueError(f"inputs: expected at least one sample with at least one feature, got shape "
                             f"{tuple(inputs.shape)}")
        inputs = usable(inputs)
        self.model, self.kwargs, self.ids = model, {k: usable(v) for k, v in kwargs.items()}, None
        if inputs.is_floating_point():
            self._check_kwargs(model.forward, method)
            self.x, self._run = inputs.detach(), model
            return
        if not (hasattr(model, "embed") and hasattr(model, "forward_embedded")):
            raise TypeError(f"inputs: integer token ids need a text model with embed() and forward_embedded(); "
                            f"{type(model).__name__} has no such methods (llmxai.nn.contract), so pass a floating-point tensor")
        if getattr(model, "vocab_size", None) is not None:
            validate.token_ids(inputs, "inputs", model.vocab_size)
        else:
            validate.tensor(inputs, "inputs", ndim=2, floating=False)
        self._check_kwargs(model.forward_embedded, method)
        self.ids = inputs
        with torch.no_grad():
            self.x = model.embed(inputs).detach()  # (B, T, d_model)
        self._run = model.forward_embedded

    def _check_kwargs(self, run, method):
        """Reject keywords that are neither options of ``method`` nor parameters of the model's ``run``."""
        options = () if method is None else [p for p in inspect.signature(method).parameters
                                             if p not in ("model", "inputs", "ids", "target", "forward_kwargs")
                                             and not p.startswith("_")]
        where = "options" if method is None else method.__name__
        validate.forward_kwargs(run, self.kwargs, where, options)

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
        if not isinstance(baseline, torch.Tensor):
            raise TypeError(f"baseline: expected None, 'zero', 'pad' or a tensor, got {type(baseline).__name__}")
        validate.tensor(baseline, "baseline", min_ndim=1)
        baseline = usable(baseline)
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
        x = usable(x).detach().requires_grad_(True)
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
