"""An image with an attribution map laid over it (e.g. a Grad-CAM map)."""

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from llmxai import validate
from llmxai.viz import _checks


def _image(image):
    if not isinstance(image, torch.Tensor):
        try:
            image = np.asarray(image, float)
        except (TypeError, ValueError):
            raise TypeError(f"image: expected an array of numbers, got {type(image).__name__}") from None
    a = image.detach().cpu().double() if isinstance(image, torch.Tensor) else torch.as_tensor(image)
    if a.dim() == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):
        a = a.permute(1, 2, 0)  # (C, H, W) -> (H, W, C)
    if a.dim() == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.dim() not in (2, 3) or (a.dim() == 3 and a.shape[-1] != 3):
        raise ValueError(f"image: expected (H, W), (H, W, 3) or (3, H, W), got shape {tuple(a.shape)}")
    if a.numel() == 0 or not bool(torch.isfinite(a).all()):
        raise ValueError(f"image: expected a non-empty image of finite values, got shape {tuple(a.shape)}"
                         f"{'' if a.numel() == 0 else ' with NaN or infinity'}")
    span = float(a.max() - a.min())
    return (a - a.min()) / (span if span > 0 else 1.0)


def overlay(image, attribution, *, ax=None, alpha=0.5, cmap="inferno", center=None, title=None,
            colorbar_label=None):
    """Draw ``image`` and, on top, ``attribution`` (h, w) resized to the image; return the ``Axes``.

    A map coarser than the image (Grad-CAM at a late layer) is upsampled bilinearly.
    ``center`` (e.g. 0 with ``cmap='RdBu_r'``) makes the colour scale symmetric around it.
    """
    img = _image(image)
    m = torch.from_numpy(_checks.array(attribution, "attribution", ndim=2))
    alpha = validate.number(alpha, "alpha", minimum=0, maximum=1)
    _checks.axes(ax)
    _checks.cmap(cmap)
    center = _checks.center(center)
    _checks.text(title, "title")
    _checks.text(colorbar_label, "colorbar_label")
    H, W = img.shape[:2]
    if tuple(m.shape) != (H, W):
        m = F.interpolate(m[None, None], size=(H, W), mode="bilinear", align_corners=False)[0, 0]
    m = m.numpy()
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(img.numpy(), cmap="gray" if img.dim() == 2 else None)
    kwargs = {}
    if center is not None:
        span = float(np.nanmax(np.abs(m - center))) if np.isfinite(m).any() else 1.0
        span = span if np.isfinite(span) and span > 0 else 1.0
        kwargs = dict(vmin=center - span, vmax=center + span)
    im = ax.imshow(m, cmap=cmap, alpha=alpha, **kwargs)
    cbar = ax.figure.colorbar(im, ax=ax)
    if colorbar_label:
        cbar.set_label(colorbar_label)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax
