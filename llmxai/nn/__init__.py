"""Models and layers written from tensor operations."""

from llmxai.nn.additive import AdditiveAttention
from llmxai.nn.attention import (
    attention_scores,
    causal_mask,
    masked_softmax,
    padding_mask,
    scaled_dot_product_attention,
)
from llmxai.nn.cnn import DigitsCNN, TextCNN
from llmxai.nn.embedding import Embedding, one_hot
from llmxai.nn.layers import FeedForward, LayerNorm, gelu
from llmxai.nn.lstm import LSTM, LSTMCell
from llmxai.nn.lstm_classifier import LSTMAttentionClassifier
from llmxai.nn.mha import MultiHeadAttention
from llmxai.nn.rnn import RNN, RNNCell
from llmxai.nn.seq2seq import Seq2Seq
from llmxai.nn.transformer import GPT, GPTClassifier, TransformerBlock, TransformerClassifier
from llmxai.nn.word2vec import CBOW, cbow_windows

__all__ = [
    "AdditiveAttention", "CBOW", "DigitsCNN", "Embedding", "FeedForward", "GPT", "GPTClassifier", "LSTM",
    "LSTMAttentionClassifier",
    "LSTMCell", "LayerNorm", "MultiHeadAttention", "RNN", "RNNCell", "Seq2Seq", "TextCNN", "TransformerBlock",
    "TransformerClassifier", "attention_scores", "causal_mask", "cbow_windows", "gelu", "masked_softmax", "one_hot",
    "padding_mask", "scaled_dot_product_attention",
]

# The Llama architecture of the real language model (SmolLM2; llmxai.smollm2 loads it).
from llmxai.nn.llama import (  # noqa: E402
    GroupedQueryAttention,
    Llama,
    LlamaBlock,
    RMSNorm,
    SwiGLU,
    apply_rotary,
    rotary_angles,
    silu,
)

__all__ += ["GroupedQueryAttention", "Llama", "LlamaBlock", "RMSNorm", "SwiGLU", "apply_rotary", "rotary_angles",
            "silu"]
