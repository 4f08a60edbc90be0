"""Models and layers written from tensor operations."""

from llmxai.nn.additive import AdditiveAttention
from llmxai.nn.attention import causal_mask, padding_mask, scaled_dot_product_attention
from llmxai.nn.cnn import DigitsCNN, TextCNN
from llmxai.nn.embedding import Embedding, one_hot
from llmxai.nn.lstm import LSTM, LSTMCell
from llmxai.nn.lstm_classifier import LSTMAttentionClassifier
from llmxai.nn.rnn import RNN, RNNCell
from llmxai.nn.seq2seq import Seq2Seq

__all__ = [
    "AdditiveAttention",
    "DigitsCNN",
    "Embedding",
    "LSTM",
    "LSTMAttentionClassifier",
    "LSTMCell",
    "RNN",
    "RNNCell",
    "Seq2Seq",
    "TextCNN",
    "causal_mask",
    "one_hot",
    "padding_mask",
    "scaled_dot_product_attention",
]
