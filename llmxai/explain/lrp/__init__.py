"""Layer-wise relevance propagation, written twice: literal per-layer rules and a fast modified-gradient pass."""

from llmxai.explain.lrp.fast import lrp
from llmxai.explain.lrp.rules import AlphaBeta, Epsilon, Flat, Gamma, Rule, ZBox, ZPlus, Zero

__all__ = ["lrp", "Rule", "Zero", "Epsilon", "Gamma", "AlphaBeta", "ZPlus", "ZBox", "Flat"]
