"""Plotting helpers: one for each kind of picture the book draws."""

from llmxai.viz.heatmap import heatmap

# evaluation curves (evalmech)
from llmxai.viz.curves import perturbation_curves

__all__ = ["heatmap", "perturbation_curves"]
