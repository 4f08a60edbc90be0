"""Matrix heatmaps with token labels and a colour bar."""

import matplotlib.pyplot as plt
import numpy as np

from llmxai import validate
from llmxai.viz import _checks


def heatmap(matrix, xlabels=None, ylabels=None, *, ax=None, title=None, xlabel=None, ylabel=None,
            cmap="viridis", center=None, annotate=False, fmt="{:.2f}", colorbar_label=None):
    """Draw a 2-D array as a heatmap; return the matplotlib ``Axes``.

    ``center`` (e.g. 0 for signed relevance) makes the colour scale symmetric around it.
    ``annotate`` writes each value in its cell (for small matrices). NaN cells are left blank.
    """
    m = _checks.array(matrix, "matrix", ndim=2)
    _checks.axes(ax)
    _checks.cmap(cmap)
    _checks.fmt(fmt)
    center = _checks.center(center)
    validate.flag(annotate, "annotate")
    for what, value in (("title", title), ("xlabel", xlabel), ("ylabel", ylabel), ("colorbar_label", colorbar_label)):
        _checks.text(value, what)
    for labels, n, what in ((xlabels, m.shape[1], "xlabels"), (ylabels, m.shape[0], "ylabels")):
        if labels is not None and (isinstance(labels, str) or not hasattr(labels, "__len__")):
            raise TypeError(f"{what}: expected a list of {n} labels, got {type(labels).__name__}")
        if labels is not None and len(labels) != n:
            raise ValueError(f"{what}: expected {n} labels, got {len(labels)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(0.5 * m.shape[1] + 2.5, 0.45 * m.shape[0] + 1.5))
    kwargs = {}
    if center is not None:
        span = float(np.nanmax(np.abs(m - center))) if np.isfinite(m).any() else 1.0
        span = span if np.isfinite(span) and span > 0 else 1.0
        kwargs = dict(vmin=center - span, vmax=center + span)
    im = ax.imshow(m, cmap=cmap, aspect="auto", **kwargs)
    cbar = ax.figure.colorbar(im, ax=ax)
    if colorbar_label:
        cbar.set_label(colorbar_label)
    if xlabels is not None:
        ax.set_xticks(range(len(xlabels)), [str(t) for t in xlabels], rotation=45, ha="right")
    if ylabels is not None:
        ax.set_yticks(range(len(ylabels)), [str(t) for t in ylabels])
    if annotate:
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                # white on dark cells, black on light ones, judged by the cell's own colour so that
                # diverging colour maps (light in the middle) stay readable
                r, g, b, _ = im.cmap(im.norm(m[i, j]))
                dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
                ax.text(j, i, fmt.format(m[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")
    ax.set(**{k: v for k, v in dict(title=title, xlabel=xlabel, ylabel=ylabel).items() if v})
    return ax
