"""Bad input, handled well everywhere: each class of bad call gets a ValueError/TypeError from llmxai
that names what was expected; valid calls with defaults work on every text model."""

import ast
import math
import pathlib
import traceback
import warnings

import pytest
import torch
from torch import nn

from llmxai import checks, hooks
from llmxai import explain as E
from llmxai import nn as lnn
from llmxai.explain.lrp import attention_relevance

ROOT = pathlib.Path(__file__).resolve().parents[1]
V, NAN, INF = 20, float("nan"), float("inf")


def tiny(name):
    torch.manual_seed(0)
    return {
        "transformer": lambda: lnn.TransformerClassifier(V, 2, d_model=16, n_heads=2, n_layers=1, d_ff=32, max_len=16),
        "gpt_classifier": lambda: lnn.GPTClassifier(V, 2, d_model=16, n_heads=2, n_layers=1, d_ff=32, max_len=16),
        "gpt": lambda: lnn.GPT(V, d_model=16, n_heads=2, n_layers=1, d_ff=32, max_len=16),
        "lstm": lambda: lnn.LSTMAttentionClassifier(V, 2, 8, 8),
        "textcnn": lambda: lnn.TextCNN(V, 2, 8, 4, kernel_sizes=(2, 3)),
        "cbow": lambda: lnn.CBOW(V, 8),
        "digits": lambda: lnn.DigitsCNN(),
    }[name]().eval()


IDS = torch.tensor([[3, 4, 5, 6, 0], [7, 8, 9, 0, 0]])  # padded after the real tokens
TEXT = ["transformer", "gpt_classifier", "gpt", "lstm", "textcnn", "cbow"]


def target_for(name):
    return (-1, 3) if name == "gpt" else 3 if name == "cbow" else 0


def raised_by_llmxai(error):
    """The innermost frame of the traceback lies in the llmxai package."""
    return "/llmxai/" in traceback.extract_tb(error.__traceback__)[-1].filename


def expect(call, error, match):
    with pytest.raises(error, match=match) as info:
        call()
    assert raised_by_llmxai(info.value), "".join(traceback.format_exception(info.value))


# Perturbation methods and metrics with their defaults, on every text model.

PERTURBATION = {
    "occlusion": lambda m, x, t: E.occlusion(m, x, t),
    "leave_one_out": lambda m, x, t: E.leave_one_out(m, x, t),
    "lime": lambda m, x, t: E.lime(m, x, t, n_samples=20),
    "kernel_shap": lambda m, x, t: E.kernel_shap(m, x, t),
    "exact_shapley": lambda m, x, t: E.exact_shapley(m, x, t),
    "deletion_curve": lambda m, x, t: E.deletion_curve(m, x, torch.rand(x.shape), t).scores,
    "insertion_curve": lambda m, x, t: E.insertion_curve(m, x, torch.rand(x.shape), t).scores,
    "aopc": lambda m, x, t: E.aopc(m, x, torch.rand(x.shape), t),
    "comprehensiveness": lambda m, x, t: E.comprehensiveness(m, x, torch.rand(x.shape), t),
    "sufficiency": lambda m, x, t: E.sufficiency(m, x, torch.rand(x.shape), t),
}


@pytest.mark.parametrize("method", list(PERTURBATION))
@pytest.mark.parametrize("name", TEXT)
def test_perturbation_defaults_work_on_every_text_model(name, method):
    x = torch.tensor([[3, 4, 5, 6]]) if name == "cbow" else IDS
    out = PERTURBATION[method](tiny(name), x, target_for(name))
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", ["transformer", "gpt_classifier"])
def test_a_removed_token_keeps_the_sequence_length(name):
    """Removing token t = the padding id at t, with the unperturbed lengths (module doc of explain._common)."""
    model = tiny(name)
    lengths = model.lengths(IDS)
    with torch.no_grad():
        full = model(IDS)[:, 0]
        for t in range(3):
            removed = IDS.clone()
            removed[:, t] = 0
            torch.testing.assert_close(E.leave_one_out(model, IDS, 0)[:, t], full - model(removed, lengths)[:, 0])
    # Padding stays padding: "removing" it changes nothing, even with another replacement id.
    assert E.occlusion(model, IDS, 0, baseline=1)[1, 3:].abs().max() < 1e-5


@pytest.mark.parametrize("name", ["lstm", "textcnn"])
def test_models_without_padding_checks_keep_the_plain_replacement(name):
    model = tiny(name)
    removed = IDS.clone()
    removed[:, 1] = 0
    with torch.no_grad():
        want = model(IDS)[:, 0] - model(removed)[:, 0]
    torch.testing.assert_close(E.leave_one_out(model, IDS, 0)[:, 1], want)


# One table: each class of bad call named in issue 8, item 5.

LIN = nn.Linear(4, 3).eval()
X = torch.randn(2, 4)


def tc():
    return tiny("transformer")


BAD_CALLS = [
    # a model of the wrong type
    (lambda: E.saliency("model", X, 0), TypeError, "model: expected a torch.nn.Module, got str"),
    (lambda: E.occlusion(lambda t: t, X, 0), TypeError, "model: expected a torch.nn.Module"),
    (lambda: E.grad_cam(None, X, 0, "0"), TypeError, "model: expected a torch.nn.Module"),
    (lambda: E.attention_rollout("m", IDS), TypeError, "model: expected a torch.nn.Module"),
    (lambda: E.cascading_randomization("m", E.saliency, X, 0), TypeError, "model: expected a torch.nn.Module"),
    (lambda: hooks.run_with_cache(3, IDS), TypeError, "model: expected a torch.nn.Module"),
    (lambda: E.occlusion(lnn.Seq2Seq(V, V, 4, 4), IDS, 0), TypeError, r"also needs \['tgt_in'\]"),
    # seeds
    (lambda: E.smoothgrad(LIN, X, 0, seed="a"), TypeError, "seed: expected an int"),
    (lambda: E.kernel_shap(LIN, X, 0, seed=1.5), TypeError, "seed"),
    (lambda: E.linear_probe(torch.randn(8, 2), torch.arange(8) % 2, seed="a"), TypeError, "seed"),
    (lambda: E.cascading_randomization(LIN, E.saliency, X, 0, seed=-1), ValueError, "seed"),
    # non-finite option values
    (lambda: E.lrp(LIN, X, 0, epsilon=INF), ValueError, "epsilon: expected a finite number, got inf"),
    (lambda: E.lrp_literal(LIN, X, 0, epsilon=NAN), ValueError, "epsilon: expected a finite number"),
    (lambda: E.lrp(LIN, X, 0, rule="gamma", gamma=INF), ValueError, "gamma: expected a finite number"),
    (lambda: E.Epsilon(INF), ValueError, "epsilon"),
    (lambda: E.AlphaBeta(NAN, NAN), ValueError, "alpha"),
    (lambda: E.smoothgrad(LIN, X, 0, noise_level=NAN), ValueError, "noise_level: expected a finite number"),
    (lambda: E.smoothgrad(LIN, X, 0, noise_level=INF), ValueError, "noise_level"),
    (lambda: E.occlusion(LIN, X, 0, baseline=NAN), ValueError, "baseline: expected a finite number"),
    (lambda: E.kernel_shap(LIN, X, 0, baseline=torch.full((4,), NAN)), ValueError, "baseline: expected finite"),
    (lambda: E.integrated_gradients(LIN, X, 0, baseline=torch.full((4,), INF)), ValueError, "baseline"),
    (lambda: E.lime(LIN, X, 0, kernel_width=NAN), ValueError, "kernel_width"),
    (lambda: E.attention_rollout(tc(), IDS, residual=NAN), ValueError, "residual"),
    (lambda: E.linear_probe(torch.randn(8, 2), torch.arange(8) % 2, weight_decay=NAN), ValueError, "weight_decay"),
    (lambda: attention_relevance(*[torch.rand(2, 3)] * 4, epsilon=INF), ValueError, "epsilon"),
    (lambda: lnn.LayerNorm(4, eps=INF), ValueError, "eps"),
    (lambda: tiny("gpt").generate(IDS[:, :2], 2, temperature=NAN), ValueError, "temperature"),
    # a target whose output is NaN
    (lambda: E.saliency(LIN, X, lambda out: out[:, 0] * NAN), ValueError,
     r"target: expected a finite score.*rows \[0, 1\]"),
    (lambda: E.occlusion(LIN, X, lambda out: out[:, 0] + INF), ValueError, "target: expected a finite score"),
    (lambda: E.lrp(LIN, X, lambda out: out[:, 0] * NAN), ValueError, "target: expected a finite score"),
    # grad_cam's channel axis must exist
    (lambda: E.grad_cam(tiny("digits"), torch.rand(2, 1, 8, 8), 0, "conv2", channel_dim=7), ValueError,
     r"channel_dim: expected a non-batch axis of the 4-D activation.*got 7"),
    (lambda: E.grad_cam(tiny("digits"), torch.rand(2, 1, 8, 8), 0, "conv2", channel_dim=-4), ValueError, "channel_dim"),
    (lambda: E.grad_cam(tiny("digits"), torch.rand(2, 1, 8, 8), 0, "conv2", channel_dim="1"), TypeError, "channel_dim"),
    # unknown options are errors, not forwarded
    (lambda: E.saliency(tc(), IDS, 0, step=10), TypeError,
     r"saliency: unknown option\(s\) \['step'\]; its options are \['absolute'\]"
     r".*forward_embedded, which takes \['lengths'\]"),
    (lambda: E.integrated_gradients(LIN, X, 0, step=10), TypeError,
     r"integrated_gradients: unknown option\(s\) \['step'\]"),
    (lambda: E.cp_lrp(tc(), IDS, 0, eps=1.0), TypeError, r"cp_lrp: unknown option\(s\) \['eps'\]"),
    (lambda: E.cp_lrp(tc(), IDS, 0, gamma=1.0), TypeError, r"cp_lrp: unknown option\(s\) \['gamma'\]"),
    (lambda: E.grad_cam(tiny("digits"), torch.rand(1, 1, 8, 8), 0, "conv2", step=1), TypeError, "grad_cam: unknown"),
    (lambda: E.attention_rollout(tc(), IDS, step=1), TypeError, "attention_maps: unknown"),
    (lambda: E.completeness_gap(LIN, X, 0, X, step=1), TypeError, "completeness_gap: unknown"),
    (lambda: hooks.run_with_cache(tc(), IDS, step=1), TypeError, "run_with_cache: expected arguments that fit"),
    # constant rows have no rank statistic
    (lambda: E.rationale_auc(torch.rand(2, 5), torch.tensor([[1, 0, 0, 0, 0], [0] * 5])), ValueError,
     "rationale: expected both rationale and other tokens in row 1"),
    (lambda: E.rationale_auc(torch.rand(5), torch.ones(5, dtype=torch.bool)), ValueError, "got 5 rationale and 0"),
    (lambda: E.spearman(torch.rand(5), torch.ones(5)), ValueError, "b: expected values that are not all equal"),
    (lambda: E.rank_correlation(torch.ones(2, 5), torch.rand(2, 5)), ValueError, r"a: .*samples \[0, 1\]"),
    # wrong shapes, empty tensors, out-of-range indices, wrong kinds
    (lambda: E.saliency(LIN, torch.rand(0, 4), 0), ValueError, "inputs: expected at least one sample"),
    (lambda: E.occlusion(tc(), IDS + V, 0), ValueError, r"inputs: expected ids in \[0, 20\)"),
    (lambda: E.occlusion(tc(), IDS, 0, baseline=V), ValueError, r"baseline: expected a token id in \[0, 20\)"),
    (lambda: E.occlusion(LIN, X, 0, window=2.5), TypeError, "window: expected an int or a tuple"),
    (lambda: E.comprehensiveness(LIN, X, X, 0, fractions=0.5), TypeError, "fractions"),
    (lambda: E.max_flow("abc", 0, 1), TypeError, "capacity"),
    (lambda: E.attention_maps(tc(), IDS, names="blocks.0.attn.hook_pattern"), TypeError, "names"),
    (lambda: E.cascading_randomization(LIN, E.saliency, X, 0, layers=3), TypeError, "layers"),
    (lambda: E.logit_difference(torch.rand(0, 4), 0, 1), ValueError, "logits"),
    (lambda: attention_relevance(torch.rand(2, 3), torch.rand(2, 4), torch.rand(2, 3), torch.rand(2, 3)), ValueError,
     "q, k, v, R_z"),
    (lambda: hooks.run_with_patches(tc(), IDS, patches={"blocks.0.hook_resid_pre": lambda a: "x"}), ValueError,
     "patch for 'blocks.0.hook_resid_pre'"),
    (lambda: lnn.LSTM(4, 4, bidirectional="no"), TypeError, "bidirectional: expected True or False"),
    (lambda: lnn.TransformerClassifier(V, 2, d_model="a"), TypeError, "d_model"),
    (lambda: lnn.one_hot(torch.tensor([1]), 4, dtype="a"), TypeError, "dtype"),
    (lambda: lnn.AdditiveAttention(4, 4, 4)(torch.rand(1, 4), torch.rand(1, 3, 4), keys_proj=torch.rand(1, 2, 4)),
     ValueError, "keys_proj"),
    (lambda: tiny("transformer")(torch.tensor([[0, 3, 4]])), ValueError, "padding id 0 only after the real tokens"),
]


@pytest.mark.parametrize("call, error, match", BAD_CALLS)
def test_bad_calls_raise_named_errors_from_llmxai(call, error, match):
    expect(call, error, match)


def test_bad_plots_raise_named_errors():
    import matplotlib

    matplotlib.use("Agg")
    from llmxai import viz

    expect(lambda: viz.heatmap(torch.rand(2, 2), ax=1), TypeError, "ax: expected a matplotlib Axes")
    expect(lambda: viz.heatmap(torch.rand(2, 2), cmap="bogus"), ValueError, "cmap")
    expect(lambda: viz.heatmap(torch.rand(2, 2), center=NAN), ValueError, "center")
    expect(lambda: viz.heatmap(torch.rand(0, 2)), ValueError, "non-empty")
    expect(lambda: viz.overlay(torch.rand(8, 8), torch.rand(2, 2), alpha=NAN), ValueError, "alpha")
    expect(lambda: viz.highlight_tokens(["a"], [1.0], max_abs=NAN), ValueError, "max_abs")
    expect(lambda: viz.highlight_tokens(["a"], [1.0], fmt=3), TypeError, "fmt")
    matplotlib.pyplot.close("all")


# Gradients inside torch.inference_mode(): autograd is turned back on for the call.

@pytest.mark.parametrize("method", [
    lambda m, x: E.saliency(m, x, 0),
    lambda m, x: E.integrated_gradients(m, x, 0, steps=4),
    lambda m, x: E.smoothgrad(m, x, 0, n_samples=3),
    lambda m, x: E.lrp(m, x, 0),
    lambda m, x: E.attention_x_gradient(m, x, 0),
    lambda m, x: E.grad_cam(m, x, 0, "blocks.0"),
])
def test_gradient_methods_work_inside_inference_mode(method):
    model = tc()
    want = method(model, IDS)
    with torch.inference_mode():
        ids = IDS.clone()  # an inference tensor
        got = method(model, ids)
    torch.testing.assert_close(got, want)


def test_linear_probe_works_inside_inference_mode():
    features, labels = torch.randn(12, 3), torch.arange(12) % 2
    want = E.linear_probe(features, labels)
    with torch.inference_mode():
        got = E.linear_probe(features.clone(), labels.clone())
    assert got.test_accuracy == want.test_accuracy
    torch.testing.assert_close(got.weight, want.weight)


def test_a_fully_masked_query_row_gets_zero_relevance_not_nan():
    g = torch.Generator().manual_seed(0)
    q, k, v, R = (torch.randn(1, 3, 4, generator=g) for _ in range(4))
    mask = torch.ones(1, 3, 3, dtype=torch.bool)
    mask[0, 1] = False
    for method in ("attnlrp", "cp"):
        R_q, R_k, R_v = attention_relevance(q, k, v, R, method=method, mask=mask)
        assert all(torch.isfinite(r).all() for r in (R_q, R_k, R_v))
        assert R_q[0, 1].abs().max() == 0


# Every submodule's train/eval mode is switched for the call and restored after.

def test_a_dropout_left_in_training_mode_is_switched_off_and_restored():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.5), nn.Linear(16, 3)).eval()
    model[1].train()
    with pytest.warns(UserWarning, match=r"training mode \(1\)"):
        first = E.saliency(model, X, 0)
    with pytest.warns(UserWarning):
        second = E.saliency(model, X, 0)
    torch.testing.assert_close(first, second)  # dropout off: the same answer twice
    assert model[1].training and not model.training and not model[0].training


def test_a_frozen_batch_norm_stays_frozen_inside_a_training_model():
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 3)).train()
    model[1].eval()
    with pytest.warns(UserWarning, match="training mode"):
        E.occlusion(model, X, 0)
    assert model.training and model[0].training and not model[1].training and model[2].training


# Graders answer a raising learner with a hint, and never write to stderr or warn.

@pytest.mark.parametrize("check, learner, hint", [
    (checks.check_softmax, lambda x: 1 / 0, "your function raised ZeroDivisionError"),
    (checks.check_softmax, lambda: None, "your function raised TypeError"),
    (checks.check_softmax, lambda x: x.to(torch.complex128), "values differ"),
    (checks.check_softmax, lambda x: (warnings.warn("careful"), torch.softmax(x, 0))[1], "LAST axis"),
    (checks.check_attention, lambda q, k, v: (q @ v, q),
     r"raised RuntimeError .* \(2, 4, 8\), \(2, 6, 8\), \(2, 6, 3\)"),
    (checks.check_attention, lambda q, k, v: [1, 2], "return a pair"),
])
def test_graders_answer_with_a_hint_and_stay_quiet(check, learner, hint, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning the grader lets through fails the test
        with pytest.raises(AssertionError, match=hint):
            check(learner)
    assert capsys.readouterr().err == ""


def test_graders_refuse_something_that_is_not_a_function():
    expect(lambda: checks.check_softmax(3), TypeError, "expected your function, got int")


# Item 6: validators live in validate.py; the plain RNN does not depend on the LSTM.

def test_rnn_does_not_import_the_lstm_and_models_hold_no_validators():
    tree = ast.parse((ROOT / "llmxai/nn/rnn.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "llmxai.nn.lstm" not in imported
    for path in (ROOT / "llmxai/nn").glob("*.py"):
        names = {n.name for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.FunctionDef)}
        assert not names & {"check_dtype", "check_lengths", "check_ids", "check_embedded", "check_features"}, path


def test_non_finite_noise_levels_are_refused_and_finite_ones_work():
    for bad in (NAN, INF, -INF):
        with pytest.raises(ValueError, match="finite"):
            E.smoothgrad(LIN, X, 0, noise_level=bad)
    assert math.isfinite(float(E.lrp(LIN, X, 0, epsilon=1e-3).sum()))
