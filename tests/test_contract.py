"""The model contract (llmxai.nn.contract): every text model in llmxai.nn meets it."""

import pytest
import torch

from llmxai.nn import GPT, LSTMAttentionClassifier, MultiHeadAttention, TextCNN
from llmxai.nn.contract import check_attention, check_text_model, reads_lengths
from llmxai.nn.transformer import GPTClassifier, TransformerClassifier

TEXT_MODELS = [
    lambda: LSTMAttentionClassifier(10, 3, 8, 6),
    lambda: TextCNN(10, 3, 8, 4, kernel_sizes=(2, 3)),
    lambda: TransformerClassifier(10, 3, d_model=8, n_heads=2, n_layers=1, d_ff=16, max_len=8),
    lambda: GPTClassifier(10, 3, d_model=8, n_heads=2, n_layers=1, d_ff=16, max_len=8),
    lambda: GPT(10, d_model=8, n_heads=2, n_layers=1, d_ff=16, max_len=8),
]


@pytest.mark.parametrize("make", TEXT_MODELS)
def test_text_models_meet_the_contract(make):
    torch.manual_seed(0)
    model = check_text_model(make()).eval()
    ids = torch.randint(1, 10, (2, 5))
    E = model.embed(ids)
    assert E.shape[:2] == (2, 5)
    torch.testing.assert_close(model.forward_embedded(E), model(ids))


def test_lengths_is_optional():
    assert reads_lengths(TransformerClassifier(10, 3, d_model=8, n_heads=2, n_layers=1, d_ff=16, max_len=8))
    assert not reads_lengths(LSTMAttentionClassifier(10, 3, 8, 6))


def test_a_model_without_embed_is_named():
    with pytest.raises(TypeError, match="Linear lacks embed, forward_embedded"):
        check_text_model(torch.nn.Linear(2, 2))


def test_attention_hook_points():
    check_attention(MultiHeadAttention(8, 2))
    with pytest.raises(TypeError, match="hook_pattern"):
        check_attention(torch.nn.Linear(2, 2), "fc")
