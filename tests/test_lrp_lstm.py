"""LSTM LRP (Arras et al. 2017): literal per-step rules vs the gradient trick, conservation, inside lrp()."""

import pytest
import torch
from torch import nn

from llmxai.explain.lrp import Epsilon, conservation, linear_relevance, lrp
from llmxai.explain.lrp.lstm import fast_forward, lstm_lrp, lstm_lrp_literal


def lstm(bidirectional, bias=True, batch_first=True, layers=1):
    torch.manual_seed(0)
    return nn.LSTM(5, 4, layers, batch_first=batch_first, bidirectional=bidirectional, bias=bias).double()


def x_and_R(D):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 6, 5, generator=g, dtype=torch.float64)
    return x, torch.randn(3, 6, 4 * D, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("bidirectional, layers", [(False, 1), (True, 1), (True, 2)])
def test_literal_equals_fast_and_forward_equals_torch(bidirectional, layers):
    m = lstm(bidirectional, layers=layers)
    x, R = x_and_R(1 + bidirectional)
    torch.testing.assert_close(fast_forward(m, x), m(x)[0], rtol=0, atol=1e-12)
    a, b = lstm_lrp_literal(m, x, R, 1e-3), lstm_lrp(m, x, R, 1e-3)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
    assert a.abs().sum() > 0


@pytest.mark.parametrize("bidirectional, layers", [(False, 1), (True, 1), (False, 2)])
def test_relevance_is_conserved_without_bias(bidirectional, layers):
    m = lstm(bidirectional, bias=False, layers=layers)
    x, R = x_and_R(1 + bidirectional)
    for fn in (lstm_lrp_literal, lstm_lrp):
        torch.testing.assert_close(fn(m, x, R, 1e-12).sum((1, 2)), R.sum((1, 2)), rtol=1e-8, atol=1e-10)
    leak = R.sum((1, 2)) - lstm_lrp_literal(lstm(bidirectional, layers=layers), x, R, 1e-12).sum((1, 2))
    assert leak.abs().max() > 1e-3  # biases absorb relevance, and the leak shows it


def test_gates_get_no_relevance():
    """Signal-take-all: R on h_0 goes wholly to c_0 = i g, then to g, then by epsilon into x_0; gates take none."""
    m = lstm(False)
    x, _ = x_and_R(1)
    R = torch.zeros(3, 6, 4, dtype=torch.float64)
    R[:, 0] = 1.0
    R_x = lstm_lrp_literal(m, x, R, 1e-3)
    # Relevance put on h_0 reaches only x_0: the gates of later steps play no part.
    assert R_x[:, 1:].abs().max() == 0
    W, b = m.weight_ih_l0[8:12].detach(), (m.bias_ih_l0 + m.bias_hh_l0)[8:12].detach()
    g_pre = x[:, 0] @ W.T + b
    i = torch.sigmoid(x[:, 0] @ m.weight_ih_l0[:4].detach().T + (m.bias_ih_l0 + m.bias_hh_l0)[:4].detach())
    c = i * torch.tanh(g_pre)
    # All of R_h goes to c_0 = i g (c_-1 = 0), all of it to g, then the epsilon rule into x_0.
    expect = linear_relevance(x[:, 0], W, b, R[:, 0] * (c / (c + 1e-3 * torch.sign(c))), Epsilon(1e-3))
    torch.testing.assert_close(R_x[:, 0], expect, rtol=0, atol=1e-12)


class Classifier(nn.Module):
    def __init__(self, use_h_n, bidirectional, bias=True):
        super().__init__()
        torch.manual_seed(2)
        self.use_h_n = use_h_n
        self.lstm = nn.LSTM(5, 4, batch_first=False, bidirectional=bidirectional, bias=bias)
        self.head = nn.Linear(4 * (1 + bidirectional), 3, bias=bias)

    def forward(self, x):  # x (B, T, 5)
        out, (h_n, c_n) = self.lstm(x.transpose(0, 1))
        last = torch.cat(list(h_n[-(1 + self.lstm.bidirectional):]), -1) if self.use_h_n else out[-1]
        return self.head(last)


@pytest.mark.parametrize("use_h_n, bidirectional", [(False, False), (True, False), (True, True)])
def test_lrp_through_a_classifier_with_an_lstm(use_h_n, bidirectional):
    model = Classifier(use_h_n, bidirectional).double().eval()
    if use_h_n and bidirectional:
        model.lstm = nn.LSTM(5, 4, 2, bidirectional=True).double()
    x, _ = x_and_R(1)
    eps = 1e-3
    R = lrp(model, x, 2, epsilon=eps)
    out, (h_n, _) = model.lstm(x.transpose(0, 1))
    last = torch.cat(list(h_n[-(1 + bidirectional):]), -1) if use_h_n else out[-1]
    top = torch.zeros(3, 3, dtype=torch.float64)
    top[:, 2] = model(x)[:, 2]
    W, b = model.head.weight.detach(), model.head.bias.detach()
    R_last = linear_relevance(last.detach(), W, b, top.detach(), Epsilon(eps))
    R_seq = torch.zeros(3, 6, last.shape[1], dtype=torch.float64)
    H = 4
    R_seq[:, -1, :H] = R_last[:, :H]
    if bidirectional:
        R_seq[:, 0, H:] = R_last[:, H:]
    torch.testing.assert_close(R, lstm_lrp_literal(model.lstm, x, R_seq, eps), rtol=0, atol=1e-10)


def test_classifier_conserves_without_bias_and_bad_input():
    model = Classifier(False, True, bias=False).double().eval()
    x, _ = x_and_R(1)
    R, layers = lrp(model, x, 0, epsilon=0.0, return_layers=True)
    assert list(layers) == ["output", "head", "lstm", "input"]
    assert conservation(layers).max_leak() < 1e-10
    m = lstm(False)
    with pytest.raises(ValueError, match="R_out"):
        lstm_lrp(m, x, torch.zeros(3, 6, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="input features"):
        lstm_lrp_literal(m, torch.zeros(3, 6, 4, dtype=torch.float64), torch.zeros(3, 6, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="projection"):
        lstm_lrp(nn.LSTM(5, 4, proj_size=2, batch_first=True).double(), x, torch.zeros(3, 6, 2, dtype=torch.float64))


def test_lstm_attention_classifier_conserves_with_constant_pooling_weights():
    from lrp_standins import LSTMAttentionClassifier

    model = LSTMAttentionClassifier(bias=False).double().eval()
    ids = torch.randint(1, 11, (3, 7), generator=torch.Generator().manual_seed(0))
    R = lrp(model, ids, 1, epsilon=0.0)
    assert R.shape == (3, 7, 6)
    torch.testing.assert_close(R.sum((1, 2)), model(ids)[:, 1].detach(), rtol=1e-9, atol=1e-10)
    biased = LSTMAttentionClassifier().double().eval()
    leak = biased(ids)[:, 1].detach() - lrp(biased, ids, 1, epsilon=0.0).sum((1, 2))
    assert leak.abs().max() > 1e-3


def test_lstm_called_with_state_or_unlike_torch_is_refused():
    class WithState(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(5, 4, batch_first=True)

        def forward(self, x):
            h0 = torch.ones(1, len(x), 4, dtype=x.dtype)
            return self.lstm(x, (h0, h0))[0][:, -1]

    x, _ = x_and_R(1)
    with pytest.raises(ValueError, match="initial state"):
        lrp(WithState().double().eval(), x, 0)

    class Peephole(nn.LSTM):
        def forward(self, x):
            out, state = super().forward(x)
            return 2 * out, state

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = Peephole(5, 4, batch_first=True)

        def forward(self, x):
            return self.lstm(x)[0][:, -1]

    with pytest.raises(ValueError, match="does not reproduce"):
        lrp(Model().double().eval(), x, 0)
