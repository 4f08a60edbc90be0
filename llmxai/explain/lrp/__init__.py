"""Layer-wise relevance propagation, written twice: literal per-layer rules and a fast modified-gradient pass."""

from llmxai.explain.lrp.conservation import Conservation, conservation
from llmxai.explain.lrp.fast import lrp
from llmxai.explain.lrp.literal import conv_relevance, linear_relevance, lrp_literal, pool_relevance
from llmxai.explain.lrp.rules import AlphaBeta, Epsilon, Flat, Gamma, Rule, ZBox, ZPlus, Zero

__all__ = [
    "lrp", "lrp_literal", "linear_relevance", "conv_relevance", "pool_relevance",
    "conservation", "Conservation",
    "Rule", "Zero", "Epsilon", "Gamma", "AlphaBeta", "ZPlus", "ZBox", "Flat",
]
