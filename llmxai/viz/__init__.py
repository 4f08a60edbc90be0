"""Plotting helpers: one for each kind of picture the book draws."""

from llmxai.viz.graph import draw_graph, layered_layout
from llmxai.viz.heatmap import heatmap

__all__ = ["draw_graph", "heatmap", "layered_layout"]
