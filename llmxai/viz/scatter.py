"""Labelled 2-D scatter plots: one point per item, its name beside it, a colour per group."""

import matplotlib.pyplot as plt
import numpy as np

from llmxai import validate
from llmxai.viz import _checks


def labelled_scatter(points, labels, groups=None, *, ax=None, title=None, xlabel=None, ylabel=None,
                     group_order=None, fontsize=8, legend_title=None):
    """Draw ``points (n, 2)`` with ``labels[i]`` written next to point ``i``; return the ``Axes``.

    ``groups[i]`` names point ``i``'s group; each group gets one colour and a legend entry,
    in ``group_order`` if given (else in order of first appearance). With ``group_order`` a
    group's colour depends only on its place in that order, so several plots agree.
    """
    p = _checks.array(points, "points", ndim=2)
    if p.shape[1] != 2:
        raise ValueError(f"points: expected an array of shape (n, 2), got shape {p.shape}")
    if not np.isfinite(p).all():
        raise ValueError("points: expected finite coordinates, got NaN or infinity")
    for what, value in (("labels", labels), ("groups", groups), ("group_order", group_order)):
        if value is not None and not hasattr(value, "__iter__"):
            raise TypeError(f"{what}: expected a list (or a str of one-letter names), got {type(value).__name__}")
    _checks.axes(ax)
    validate.number(fontsize, "fontsize", above=0)
    labels = [str(t) for t in labels]
    if len(labels) != p.shape[0]:
        raise ValueError(f"labels: expected {p.shape[0]} labels, got {len(labels)}")
    groups = [None] * len(labels) if groups is None else list(groups)
    if len(groups) != p.shape[0]:
        raise ValueError(f"groups: expected {p.shape[0]} group names, got {len(groups)}")
    seen = list(dict.fromkeys(groups))
    order = seen if group_order is None else list(group_order)
    missing = [g for g in seen if g not in order]
    if missing:
        raise ValueError(f"group_order: expected every group to appear, got no place for {missing}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, group in enumerate(order):
        if group not in seen:
            continue  # absent groups keep their colour slot, so colours match across plots
        rows = [i for i, g in enumerate(groups) if g == group]
        ax.scatter(p[rows, 0], p[rows, 1], s=18, color=colours[k % len(colours)],
                   label=None if group is None else str(group))
    for (x, y), text in zip(p, labels):
        ax.annotate(text, (x, y), xytext=(3, 2), textcoords="offset points", fontsize=fontsize)
    if any(g is not None for g in seen):
        ax.legend(title=legend_title, fontsize=fontsize)
    ax.set(**{k: v for k, v in dict(title=title, xlabel=xlabel, ylabel=ylabel).items() if v})
    return ax
