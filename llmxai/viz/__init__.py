"""Plotting helpers: one for each kind of picture the book draws."""

from llmxai.viz.heatmap import heatmap

__all__ = ["heatmap"]
