"""Pieces shared by the fast and the literal LRP passes: layer kinds, eval mode, inputs."""

import warnings
from contextlib import contextmanager

from torch import nn

from llmxai import validate
from llmxai.hooks import HookPoint

WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d)
ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.ELU, nn.SiLU, nn.Softplus, nn.Hardtanh)
MAX_POOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)
AVG_POOLS = (nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)
SHAPE_ONLY = (nn.Flatten, nn.Unflatten, nn.Dropout, nn.Identity, HookPoint)


@contextmanager
def eval_mode(model):
    """Run in eval mode (dropout off); warn when the model came in training mode, and restore it after."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    was = model.training
    if was:
        warnings.warn("lrp: the model was in training mode; explaining it in eval mode", stacklevel=3)
        model.eval()
    try:
        yield
    finally:
        model.train(was)


def prepare(model, inputs):
    """(run, x): a function of x that returns the logits, and x, the float tensor to explain (embeddings for token ids)."""
    validate.tensor(inputs, "inputs", min_ndim=1)
    if inputs.is_floating_point():
        return model, inputs.detach()
    if not (hasattr(model, "embed") and hasattr(model, "forward_embedded")):
        raise TypeError(f"inputs: token ids ({inputs.dtype}) need a model with embed() and forward_embedded(); got {type(model).__name__}")
    return model.forward_embedded, model.embed(inputs).detach()
