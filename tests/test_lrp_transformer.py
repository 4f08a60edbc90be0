"""CP-LRP and AttnLRP on a tiny pre-LN Transformer that follows llmxai.nn.contract."""

import pytest
import torch
from torch import nn

from llmxai.explain.lrp import attention_relevance, attn_lrp, cp_lrp, lrp
from llmxai.hooks import hook_names, hooks, run_with_cache
from lrp_standins import TinyTransformerClassifier


def ids(B=3, T=5, seed=0):
    return torch.randint(1, 11, (B, T), generator=torch.Generator().manual_seed(seed))


def bias_free(**kw):
    model = TinyTransformerClassifier(bias=False, **kw).double().eval()
    with torch.no_grad():
        model.pos.zero_()
    return model


def hooks_left(model):
    """How many forward hooks are still registered anywhere in ``model``."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def constant_pattern_and_scale(model):
    """CP-LRP's view of the model, written out: patterns and norm scales detached by hooks."""
    return hooks(model, {name: torch.Tensor.detach for name in hook_names(model)
                         if name.endswith(("hook_pattern", "hook_scale"))})


def test_cp_lrp_is_gradient_times_input_with_constant_attention_and_scale():
    """Ali et al. 2022: with eps = 0 and ReLU, CP-LRP is gradient x input with softmax and LayerNorm scale constant."""
    model = TinyTransformerClassifier(act=nn.ReLU).double().eval()
    x = ids()
    R = cp_lrp(model, x, 1, epsilon=0.0)
    assert hooks_left(model) == 0
    E = model.embed(x).detach().requires_grad_(True)
    with constant_pattern_and_scale(model):
        (g,) = torch.autograd.grad(model.forward_embedded(E)[:, 1].sum(), E)
    torch.testing.assert_close(R, (g * E).detach(), rtol=0, atol=1e-12)
    (g_plain,) = torch.autograd.grad(TinyTransformerClassifier(act=nn.ReLU).double().forward_embedded(E)[:, 1].sum(), E)
    assert (R - g_plain * E).abs().max() > 1e-4  # constant attention is not plain gradient x input


@pytest.mark.parametrize("causal, act", [(False, nn.GELU), (True, nn.GELU), (False, "functional")])
def test_cp_lrp_conserves_on_bias_free_transformer(causal, act):
    model = bias_free(causal=causal, act=act)
    x = ids()
    logit = model(x)[:, 2].detach()
    R, layers = cp_lrp(model, x, 2, epsilon=0.0, return_layers=True)
    torch.testing.assert_close(R.sum((1, 2)), logit, rtol=1e-9, atol=1e-10)
    for name in ("blocks.0.hook_resid_pre", "blocks.0.hook_resid_mid", "blocks.1.hook_resid_post"):
        torch.testing.assert_close(layers[name].sum((1, 2)), logit, rtol=1e-9, atol=1e-10)


def test_cp_lrp_reports_leak_with_bias_and_positions():
    model = TinyTransformerClassifier().double().eval()
    x = ids()
    R, layers = cp_lrp(model, x, 0, epsilon=1e-2, return_layers=True)
    leak = layers["output"].sum(1) - R.sum((1, 2))
    assert leak.abs().min() > 1e-4


@pytest.mark.parametrize("method", ["cp", "attnlrp"])
@pytest.mark.parametrize("causal", [False, True])
def test_attention_rules_match_literal_formulas(method, causal):
    model = TinyTransformerClassifier(causal=causal).double().eval()
    x = ids()
    R, layers = lrp(model, x, 1, epsilon=1e-3, attention=method, return_layers=True)
    assert torch.isfinite(R).all()
    _, cache = run_with_cache(model, x)
    mask = torch.ones(5, 5, dtype=torch.bool).tril() if causal else None
    for i in range(2):
        a = f"blocks.{i}.attn."
        R_q, R_k, R_v = attention_relevance(cache[a + "hook_q"], cache[a + "hook_k"], cache[a + "hook_v"],
                                            layers[a + "hook_z"], method, mask=mask)
        torch.testing.assert_close(layers[a + "hook_v"], R_v, rtol=0, atol=1e-10)
        if method == "cp":
            assert a + "hook_q" not in layers and a + "hook_k" not in layers
        else:
            torch.testing.assert_close(layers[a + "hook_q"], R_q, rtol=0, atol=1e-10)
            torch.testing.assert_close(layers[a + "hook_k"], R_k, rtol=0, atol=1e-10)


def test_attnlrp_uniform_rule_conserves_in_each_product_and_softmax_rule_leaks():
    model = bias_free()
    x = ids()
    R, layers = attn_lrp(model, x, 2, epsilon=0.0, return_layers=True)
    a = "blocks.0.attn."
    R_z, R_v, R_P = (layers[a + n].sum((1, 2, 3)) for n in ("hook_z", "hook_v", "hook_pattern"))
    torch.testing.assert_close(R_v, 0.5 * R_z)
    torch.testing.assert_close(R_P, 0.5 * R_z)
    R_q, R_k = layers[a + "hook_q"].sum((1, 2, 3)), layers[a + "hook_k"].sum((1, 2, 3))
    torch.testing.assert_close(R_q, R_k)
    assert (R_P - R_q - R_k).abs().max() > 1e-6  # the softmax rule is not conservative (Achtibat et al. 2024)
    assert not torch.allclose(R, cp_lrp(model, x, 2, epsilon=0.0))


def test_hooks_removed_even_after_an_exception():
    model = TinyTransformerClassifier().double().eval()
    before = hooks_left(model)

    def bad(out):
        raise RuntimeError("target failed")

    for method in ("cp", "attnlrp"):
        with pytest.raises(RuntimeError, match="target failed"):
            lrp(model, ids(), bad, attention=method, return_layers=True)
        assert hooks_left(model) == before


def test_bad_attention_modules():
    model = TinyTransformerClassifier().double().eval()
    del model.blocks[0].attn.hook_k
    with pytest.raises(ValueError, match=r"lacks the hook points \['hook_k'\]"):
        attn_lrp(model, ids(), 0)
    with pytest.raises(ValueError, match="attention"):
        lrp(TinyTransformerClassifier().double(), ids(), 0, attention="rollout")

    class TorchAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = nn.MultiheadAttention(4, 2, batch_first=True)

        def forward(self, x):
            return self.mha(x, x, x)[0].sum(1)

    with pytest.raises(ValueError, match="MultiheadAttention.*rule_map"):
        lrp(TorchAttention().double().eval(), torch.randn(2, 3, 4, dtype=torch.float64), 0)
    with pytest.raises(ValueError, match="method"):
        attention_relevance(torch.ones(2, 2), torch.ones(2, 2), torch.ones(2, 2), torch.ones(2, 2), "rollout")
