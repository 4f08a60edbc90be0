"""Models and layers written from tensor operations."""

from llmxai.nn.attention import (
    attention_scores,
    causal_mask,
    masked_softmax,
    padding_mask,
    scaled_dot_product_attention,
)
from llmxai.nn.layers import FeedForward, LayerNorm, gelu
from llmxai.nn.mha import MultiHeadAttention
from llmxai.nn.transformer import GPT, TransformerBlock, TransformerClassifier

__all__ = [
    "FeedForward",
    "GPT",
    "LayerNorm",
    "MultiHeadAttention",
    "TransformerBlock",
    "TransformerClassifier",
    "attention_scores",
    "causal_mask",
    "gelu",
    "masked_softmax",
    "padding_mask",
    "scaled_dot_product_attention",
]
