"""Grad-CAM: where in a layer's feature map the evidence for the target lies.

Selvaraju et al. 2017, "Grad-CAM: visual explanations from deep networks via gradient-based
localization", ICCV, DOI 10.1109/ICCV.2017.74, eqs. 1-2: for the layer's activations A
(channels k, positions i), ``alpha_k = mean_i dy/dA_k[i]`` and the map is
``ReLU(sum_k alpha_k A_k[i])``. The same recipe works over token positions of a text layer.
"""

import torch
import torch.nn.functional as F
from torch import nn

from llmxai import validate
from llmxai.explain._inputs import eval_mode
from llmxai.explain.targets import select_target

CHANNELS_FIRST_1D = (nn.Conv1d, nn.ConvTranspose1d, nn.MaxPool1d, nn.AvgPool1d, nn.AdaptiveAvgPool1d,
                     nn.AdaptiveMaxPool1d, nn.BatchNorm1d)


def resolve_layer(model, layer):
    """Return ``(name, module)`` for a module of ``model`` or its dotted name from ``named_modules()``."""
    validate.module(model)
    modules = dict(model.named_modules())
    if isinstance(layer, str):
        if layer not in modules or layer == "":
            raise ValueError(f"layer: unknown name {layer!r}; valid names are {[n for n in modules if n]}")
        return layer, modules[layer]
    if isinstance(layer, nn.Module):
        for name, m in modules.items():
            if m is layer:
                return name, m
        raise ValueError(f"layer: the {type(layer).__name__} given is not a submodule of the model")
    raise TypeError(f"layer: expected an nn.Module or a dotted name, got {type(layer).__name__}")


def _channel_dim(A, module, inputs, name):
    if A.dim() != 3:
        return 1
    if isinstance(module, CHANNELS_FIRST_1D):
        return 1
    T = inputs.shape[1] if not inputs.is_floating_point() else inputs.shape[-1]
    if A.shape[1] == T != A.shape[2]:
        return 2
    if A.shape[2] == T != A.shape[1]:
        return 1
    raise ValueError(f"layer {name!r}: cannot tell channels from positions in its output of shape "
                     f"{tuple(A.shape)}; pass channel_dim=1 for (B, C, T) or channel_dim=2 for (B, T, C)")


def grad_cam(model, inputs, target, layer, *, relu=True, resize=False, channel_dim=None, **forward_kwargs):
    """Grad-CAM map of ``layer`` for ``target``: ``(B, *positions)`` at the layer's resolution.

    ``layer``: a module or dotted name; a layer returning a tuple (an LSTM's ``(output, (h, c))``)
    is read at its first element. ``channel_dim``: which axis of the activation holds channels
    (default 1; for 3-D activations inferred from the layer type and the input length, e.g.
    ``(B, T, C)`` for LSTM or Transformer outputs). ``relu=False`` keeps the sign.
    ``resize=True`` interpolates the map to the input's size (image ``(H, W)`` or ``T`` tokens).
    """
    name, module = resolve_layer(model, layer)
    validate.tensor(inputs, "inputs", min_ndim=2)
    for flag, value in (("relu", relu), ("resize", resize)):
        if not isinstance(value, bool):
            raise TypeError(f"{flag}: expected a bool, got {type(value).__name__}")
    if channel_dim is not None and (isinstance(channel_dim, bool) or not isinstance(channel_dim, int)):
        raise TypeError(f"channel_dim: expected an int axis or None, got {type(channel_dim).__name__}")
    validate.forward_kwargs(model.forward, forward_kwargs, "grad_cam", ("relu", "resize", "channel_dim"))
    captured = []

    def swap_in_leaf(mod, args, out):
        first = out[0] if isinstance(out, tuple) else out
        validate.tensor(first, f"output of layer {name!r}", min_ndim=3, floating=True, finite=False)
        # dy/dA needs only the graph above the layer: the forward runs without autograd up to
        # here, and from here on records, starting at a fresh leaf that stands for A.
        torch.set_grad_enabled(True)
        A = first.detach().requires_grad_(True)
        captured.append(A)
        # clone: an in-place op downstream (ReLU(inplace=True)) must not write into the leaf
        return (A.clone(),) + tuple(out[1:]) if isinstance(out, tuple) else A.clone()

    with eval_mode(model):
        handle = module.register_forward_hook(swap_in_leaf)
        try:
            with torch.no_grad():  # restores the caller's grad mode on exit, even after an error
                y = select_target(model(inputs, **forward_kwargs), target)  # (B,)
                if len(captured) != 1:
                    raise ValueError(f"layer {name!r} ran {len(captured)} times in one forward pass; "
                                     "Grad-CAM needs a layer that runs exactly once")
                (grad,) = torch.autograd.grad(y.sum(), captured[0], allow_unused=True)
        finally:
            handle.remove()
    A = captured[0].detach()
    if grad is None:
        raise ValueError(f"the target does not depend on the (first) output of layer {name!r}")
    c = _channel_dim(A, module, inputs, name) if channel_dim is None else channel_dim
    if not (1 <= c < A.dim() or -A.dim() < c <= -1):
        raise ValueError(f"channel_dim: expected a non-batch axis of the {A.dim()}-D activation of shape "
                         f"{tuple(A.shape)}, one of 1..{A.dim() - 1} or -{A.dim() - 1}..-1, got {c}")
    c %= A.dim()
    positions = [d for d in range(1, A.dim()) if d != c]
    alpha = grad.mean(dim=positions, keepdim=True)  # (B, C, 1, ...) along the channel axis
    cam = (alpha * A).sum(c)  # (B, *positions)
    if relu:
        cam = cam.clamp_min(0)
    if resize:
        size = tuple(inputs.shape[1:] if not inputs.is_floating_point() else inputs.shape[2:])
        if len(size) != cam.dim() - 1:
            raise ValueError(f"resize: the map has {cam.dim() - 1} position axes but the input's size is {size}")
        mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[len(size)]
        cam = F.interpolate(cam[:, None], size=size, mode=mode, align_corners=False)[:, 0]
    return cam
