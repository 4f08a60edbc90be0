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


def test_llmxai_transformers_cp_conserves_and_attnlrp_matches_literal():
    """Runs once llmxai.nn.transformer (TransformerClassifier, GPT) is merged."""
    tf = pytest.importorskip("llmxai.nn.transformer")
    from llmxai.explain.lrp import attention_relevance, attn_lrp, cp_lrp
    from llmxai.hooks import run_with_cache

    torch.manual_seed(0)
    for activation in ("relu", "gelu"):
        model = tf.TransformerClassifier(20, 3, d_model=16, n_heads=2, n_layers=2, d_ff=32,
                                         activation=activation).double().eval()
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name.endswith("bias") or "pos_embed" in name:
                    p.zero_()
                elif name.endswith("ln1.weight") or name.endswith("ln2.weight"):
                    p.uniform_(0.5, 1.5)
        ids = torch.randint(1, 20, (3, 7), generator=torch.Generator().manual_seed(1))
        ids[1, 5:] = 0
        lengths = model.lengths(ids)
        R = cp_lrp(model, ids, 1, epsilon=0.0, lengths=lengths)
        torch.testing.assert_close(R.sum((1, 2)), model(ids)[:, 1].detach(), rtol=1e-9, atol=1e-10)
        assert R[1, 5:].abs().max() == 0
    gpt = tf.GPT(20, d_model=16, n_heads=2, n_layers=2, d_ff=32).double().eval()
    ids = torch.randint(1, 20, (2, 6), generator=torch.Generator().manual_seed(2))
    _, layers = attn_lrp(gpt, ids, (-1, 3), epsilon=1e-3, return_layers=True)
    _, cache = run_with_cache(gpt, ids)
    a = "blocks.0.attn."
    R_q, R_k, R_v = attention_relevance(cache[a + "hook_q"], cache[a + "hook_k"], cache[a + "hook_v"],
                                        layers[a + "hook_z"], "attnlrp", mask=torch.ones(6, 6, dtype=torch.bool).tril())
    for name, ours in (("hook_q", R_q), ("hook_k", R_k), ("hook_v", R_v)):
        torch.testing.assert_close(layers[a + name], ours, rtol=0, atol=1e-10)
