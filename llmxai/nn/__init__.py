"""Models and layers written from tensor operations."""

from llmxai.nn.attention import causal_mask, padding_mask, scaled_dot_product_attention

__all__ = ["causal_mask", "padding_mask", "scaled_dot_product_attention"]
