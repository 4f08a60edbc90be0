"""Layer-wise relevance propagation (LRP), written twice.

- :func:`lrp_literal` walks a chain of layers backwards and applies each rule in matrix
  form (``linear_relevance``; convolutions through an explicit unfold; pooling): what the
  chapter derives, slow on purpose.
- :func:`lrp` runs the same rules as one modified backward pass over any model built
  from Linear, Conv1d/Conv2d, activations, pooling, Flatten, Dropout, LSTMs and the
  Transformer layers of :mod:`llmxai.nn.contract` (CP-LRP or AttnLRP), carrying R = a * g.

Rules are small objects (:class:`Rule` with input/weight modifiers, a bias modifier and
a stabiliser): :class:`Zero`, :class:`Epsilon`, :class:`Gamma`, :class:`ZPlus`,
:class:`AlphaBeta`, :class:`ZBox`, :class:`Flat`. :func:`conservation` sums relevance
layer by layer and reports what bias and epsilon absorbed.
"""

from llmxai.explain.lrp.conservation import Conservation, conservation
from llmxai.explain.lrp.fast import attn_lrp, cp_lrp, lrp
from llmxai.explain.lrp.literal import conv_relevance, linear_relevance, lrp_literal, pool_relevance
from llmxai.explain.lrp.lstm import lstm_lrp, lstm_lrp_literal
from llmxai.explain.lrp.rules import AlphaBeta, Epsilon, Flat, Gamma, Rule, ZBox, ZPlus, Zero
from llmxai.explain.lrp.transformer import attention_relevance

__all__ = [
    "lrp", "lrp_literal", "linear_relevance", "conv_relevance", "pool_relevance",
    "lstm_lrp", "lstm_lrp_literal", "cp_lrp", "attn_lrp", "attention_relevance",
    "conservation", "Conservation",
    "Rule", "Zero", "Epsilon", "Gamma", "AlphaBeta", "ZPlus", "ZBox", "Flat",
]
