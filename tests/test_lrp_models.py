"""LRP on llmxai's own recurrent models (llmxai.nn.lstm), with padding."""

import pytest
import torch
from torch import nn

from llmxai.explain.lrp import lrp
from llmxai.explain.lrp.lstm import fast_forward, lstm_lrp, lstm_lrp_literal
from llmxai.nn.lstm import LSTM
from llmxai.nn.lstm_classifier import LSTMAttentionClassifier


@pytest.mark.parametrize("layers", [1, 2])
def test_llmxai_lstm_with_lengths_literal_equals_fast_and_forward(layers):
    torch.manual_seed(0)
    ours = LSTM.from_torch(nn.LSTM(5, 4, layers, batch_first=True, bidirectional=True)).double()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 6, 5, generator=g, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4])
    torch.testing.assert_close(fast_forward(ours, x, lengths=lengths), ours(x, lengths=lengths)[0], rtol=0, atol=1e-12)
    R = torch.randn(3, 6, 8, generator=g, dtype=torch.float64)
    a, b = lstm_lrp_literal(ours, x, R, 1e-3, lengths), lstm_lrp(ours, x, R, 1e-3, lengths)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
    assert a[1, 2:].abs().max() == 0 and a[2, 4:].abs().max() == 0
    with torch.no_grad():
        for name, p in ours.named_parameters():
            if "bias" in name:
                p.zero_()
    real = (torch.arange(6)[None, :, None] < lengths[:, None, None]).double()
    torch.testing.assert_close(lstm_lrp_literal(ours, x, R, 0.0, lengths).sum((1, 2)), (R * real).sum((1, 2)))


def classifier(bias):
    torch.manual_seed(3)
    model = LSTMAttentionClassifier(vocab_size=12, n_classes=3, d_emb=6, d_hidden=5).double().eval()
    if not bias:
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "bias" in name:
                    p.zero_()
    return model


def test_lstm_attention_classifier_with_padding():
    model = classifier(bias=False)
    ids = torch.tensor([[3, 4, 5, 6, 7], [8, 9, 0, 0, 0], [1, 2, 3, 0, 0]])
    lengths = torch.tensor([5, 2, 3])
    R = lrp(model, ids, 2, epsilon=0.0, lengths=lengths)
    assert R.shape == (3, 5, 6)
    torch.testing.assert_close(R.sum((1, 2)), model(ids, lengths)[:, 2].detach(), rtol=1e-9, atol=1e-10)
    assert R[1, 2:].abs().max() == 0 and R[2, 3:].abs().max() == 0
    biased = classifier(bias=True)
    R = lrp(biased, ids, 1, epsilon=1e-3, lengths=lengths)
    alone = lrp(biased, ids[1:2, :2], 1, epsilon=1e-3)
    torch.testing.assert_close(R[1:2, :2], alone, rtol=0, atol=1e-10)
