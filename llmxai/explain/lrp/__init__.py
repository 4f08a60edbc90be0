"""Layer-wise relevance propagation, written twice: literal per-layer rules and a fast modified-gradient pass."""

from llmxai.explain.lrp.conservation import Conservation, conservation
from llmxai.explain.lrp.fast import lrp
from llmxai.explain.lrp.literal import conv_relevance, linear_relevance, lrp_literal, pool_relevance
from llmxai.explain.lrp.lstm import lstm_lrp, lstm_lrp_literal
from llmxai.explain.lrp.rules import AlphaBeta, Epsilon, Flat, Gamma, Rule, ZBox, ZPlus, Zero
from llmxai.explain.lrp.transformer import attention_relevance, attn_lrp, cp_lrp

__all__ = [
    "lrp", "lrp_literal", "linear_relevance", "conv_relevance", "pool_relevance",
    "lstm_lrp", "lstm_lrp_literal", "cp_lrp", "attn_lrp", "attention_relevance",
    "conservation", "Conservation",
    "Rule", "Zero", "Epsilon", "Gamma", "AlphaBeta", "ZPlus", "ZBox", "Flat",
]
