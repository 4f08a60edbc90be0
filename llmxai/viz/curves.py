"""Deletion and insertion curves, one line per method, with the area under each in the legend."""

import matplotlib.pyplot as plt
import torch

from llmxai import validate
from llmxai.viz import _checks


def perturbation_curves(curves, *, ax=None, title=None, xlabel=None, ylabel="score",
                        band=True):
    """Plot ``{label: Curve}`` (from :func:`llmxai.explain.evaluate.deletion_curve` or ``insertion_curve``);
    return the matplotlib ``Axes``.

    Each line is the mean over the batch; ``band`` shades one standard deviation when the batch has
    more than one sample. The legend gives each method's mean area under the curve. ``xlabel`` defaults
    to "fraction of features removed" (or "inserted", after the first curve's ``kind``).
    """
    if not isinstance(curves, dict):
        raise TypeError(f"curves: expected a non-empty dict {{label: Curve}}, got {type(curves).__name__}")
    if not curves:
        raise ValueError("curves: expected a non-empty dict {label: Curve}, got an empty dict")
    _checks.axes(ax)
    validate.flag(band, "band")
    for label, c in curves.items():
        if not all(isinstance(getattr(c, a, None), torch.Tensor) for a in ("fractions", "scores", "auc")):
            raise TypeError(f"curves[{label!r}]: expected a Curve with fractions, scores and auc, got {type(c).__name__}")
        if c.scores.dim() != 2 or c.scores.shape[1] != c.fractions.shape[0]:
            raise ValueError(f"curves[{label!r}]: expected scores (B, {c.fractions.shape[0]}), got {tuple(c.scores.shape)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    for label, c in curves.items():
        x = c.fractions.detach().cpu().double().numpy()
        s = c.scores.detach().cpu().double()
        mean = s.mean(0).numpy()
        line, = ax.plot(x, mean, label=f"{label} (AUC {float(c.auc.double().mean()):.3f})")
        if band and s.shape[0] > 1:
            sd = s.std(0).numpy()
            ax.fill_between(x, mean - sd, mean + sd, color=line.get_color(), alpha=0.15, linewidth=0)
    ax.set_xlim(0, 1)
    kind = getattr(next(iter(curves.values())), "kind", "deletion")
    ax.set_xlabel(xlabel or f"fraction of features {'inserted' if kind == 'insertion' else 'removed'}")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend()
    return ax
