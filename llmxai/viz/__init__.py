"""Plotting helpers: one for each kind of picture the book draws."""

from llmxai.viz.curves import perturbation_curves
from llmxai.viz.graph import draw_graph, layered_layout
from llmxai.viz.heatmap import heatmap
from llmxai.viz.overlay import overlay
from llmxai.viz.scatter import labelled_scatter
from llmxai.viz.tokens import TokenHighlight, highlight_tokens

__all__ = ["heatmap", "overlay", "highlight_tokens", "TokenHighlight", "perturbation_curves", "draw_graph",
           "layered_layout", "labelled_scatter"]
