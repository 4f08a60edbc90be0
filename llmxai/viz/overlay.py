"""An image with an attribution map laid over it (e.g. a Grad-CAM map)."""

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F


def _image(image):
    a = image.detach().cpu().double() if isinstance(image, torch.Tensor) else torch.as_tensor(np.asarray(image, float))
    if a.dim() == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):
        a = a.permute(1, 2, 0)  # (C, H, W) -> (H, W, C)
    if a.dim() == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.dim() not in (2, 3) or (a.dim() == 3 and a.shape[-1] != 3):
        raise ValueError(f"image: expected (H, W), (H, W, 3) or (3, H, W), got shape {tuple(a.shape)}")
    span = float(a.max() - a.min())
    return (a - a.min()) / (span if span > 0 else 1.0)


def overlay(image, attribution, *, ax=None, alpha=0.5, cmap="inferno", center=None, title=None,
            colorbar_label=None):
    """Draw ``image`` and, on top, ``attribution`` (h, w) resized to the image; return the ``Axes``.

    A map coarser than the image (Grad-CAM at a late layer) is upsampled bilinearly.
    ``center`` (e.g. 0 with ``cmap='RdBu_r'``) makes the colour scale symmetric around it.
    """
    img = _image(image)
    m = attribution.detach().cpu().double() if isinstance(attribution, torch.Tensor) else torch.as_tensor(
        np.asarray(attribution, float))
    if m.dim() != 2:
        raise ValueError(f"attribution: expected a 2-D (h, w) map, got shape {tuple(m.shape)}")
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha: expected a number in [0, 1], got {alpha}")
    H, W = img.shape[:2]
    if tuple(m.shape) != (H, W):
        m = F.interpolate(m[None, None], size=(H, W), mode="bilinear", align_corners=False)[0, 0]
    m = m.numpy()
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(img.numpy(), cmap="gray" if img.dim() == 2 else None)
    kwargs = {}
    if center is not None:
        span = float(np.abs(m - center).max()) or 1.0
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
