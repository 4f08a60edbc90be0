"""Checks shared by the plotting helpers: arrays, axes, colour maps and format strings."""

import matplotlib
import numpy as np
import torch
from matplotlib.axes import Axes

from llmxai import validate


def array(x, name, ndim):
    """``x`` (tensor, array or nested list of numbers) as a float NumPy array with ``ndim`` axes and no empty axis.

    NaN is allowed (drawn as a blank cell); values that are not real numbers are not.
    """
    if isinstance(x, torch.Tensor):
        if x.is_complex():
            raise TypeError(f"{name}: expected real numbers, got a tensor of dtype {x.dtype}")
        x = x.detach().cpu().double().numpy()
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected an array of real numbers, got {type(x).__name__}") from None
    if a.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got shape {a.shape}")
    if 0 in a.shape:
        raise ValueError(f"{name}: expected a non-empty array, got shape {a.shape}")
    return a


def axes(ax):
    if ax is not None and not isinstance(ax, Axes):
        raise TypeError(f"ax: expected a matplotlib Axes or None, got {type(ax).__name__}")
    return ax


def cmap(name):
    if isinstance(name, str) and name not in matplotlib.colormaps:
        raise ValueError(f"cmap: expected a matplotlib colour map name such as 'viridis' or 'RdBu_r', got {name!r}")
    if not isinstance(name, (str, matplotlib.colors.Colormap)):
        raise TypeError(f"cmap: expected a colour map name or a Colormap, got {type(name).__name__}")
    return name


def fmt(spec, name="fmt"):
    """A format string such as ``'{:.2f}'`` that formats a float."""
    if not isinstance(spec, str):
        raise TypeError(f"{name}: expected a format string such as '{{:.2f}}', got {type(spec).__name__}")
    try:
        spec.format(0.5)
    except (ValueError, IndexError, KeyError) as e:
        raise ValueError(f"{name}: expected a format string for one number such as '{{:.2f}}', "
                         f"got {spec!r} ({e})") from None
    return spec


def text(value, name):
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name}: expected a str or None, got {type(value).__name__}")
    return value


def center(value):
    return None if value is None else validate.number(value, "center")
