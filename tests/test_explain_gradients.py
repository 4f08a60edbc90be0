import pytest
import torch
from captum.attr import InputXGradient, IntegratedGradients, Saliency
from explain_tiny_models import TextCNN, TextLSTM, TinyTransformer, ids_batch, image_cnn

from llmxai.explain import (completeness_gap, gradient_x_input, integrated_gradients, saliency, select_target,
                            smoothgrad, token_scores)

TIGHT = dict(atol=1e-10, rtol=0)
pytestmark = pytest.mark.filterwarnings("ignore:Input Tensor 0 did not already require gradients")


@pytest.fixture
def cnn():
    return image_cnn().double().eval()


@pytest.fixture
def images():
    return torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


@pytest.fixture
def text():
    return TinyTransformer().double().eval()


def captum_ig(forward, x, target, steps, method, baseline=None, **kw):
    # captum builds its Riemann nodes with torch.linspace in the default dtype; float64 keeps them exact
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        return IntegratedGradients(forward).attribute(x, baselines=baseline, target=target, n_steps=steps,
                                                      method=method, **kw)
    finally:
        torch.set_default_dtype(old)


# --- targets -------------------------------------------------------------------------------

def test_select_target_kinds():
    out = torch.arange(12.0).reshape(2, 6)
    assert select_target(out, 4).tolist() == [4.0, 10.0]
    assert select_target(out, torch.tensor([1, 5])).tolist() == [1.0, 11.0]
    assert select_target(out, lambda o: o[:, 0] - o[:, 1]).tolist() == [-1.0, -1.0]
    lm = torch.arange(24.0).reshape(2, 3, 4)
    assert select_target(lm, (-1, 2)).tolist() == [10.0, 22.0]
    assert select_target(torch.ones(2, 1), None).shape == (2,)


@pytest.mark.parametrize("out, target, message", [
    (torch.zeros(2, 6), 6, r"\[0, 6\)"),
    (torch.zeros(2, 6), -1, r"\[0, 6\)"),
    (torch.zeros(2, 6), torch.tensor([0, 9]), r"\[0, 6\)"),
    (torch.zeros(2, 6), torch.tensor([0, 1, 2]), r"\(2,\)"),
    (torch.zeros(2, 3, 4), (3, 0), r"\[-3, 3\)"),
    (torch.zeros(2, 3, 4), (0, 4), r"\[0, 4\)"),
    (torch.zeros(2, 6), (0, 1), "language-model"),
    (torch.zeros(2, 3, 4), 1, "position, token"),
    (torch.zeros(2, 6), None, "class index"),
    (torch.zeros(2, 6), lambda o: o, r"\(2,\) tensor"),
])
def test_select_target_rejects_bad_targets(out, target, message):
    with pytest.raises(ValueError, match=message):
        select_target(out, target)


def test_select_target_rejects_non_int():
    with pytest.raises(TypeError, match="int"):
        select_target(torch.zeros(2, 6), 1.5)


# --- agreement with captum -----------------------------------------------------------------

@pytest.mark.parametrize("absolute", [True, False])
def test_saliency_equals_captum(cnn, images, absolute):
    ours = saliency(cnn, images, 2, absolute=absolute)
    theirs = Saliency(cnn).attribute(images, target=2, abs=absolute)
    torch.testing.assert_close(ours, theirs, **TIGHT)


def test_gradient_x_input_equals_captum(cnn, images):
    torch.testing.assert_close(gradient_x_input(cnn, images, torch.tensor([0, 3, 1])),
                               InputXGradient(cnn).attribute(images, target=torch.tensor([0, 3, 1])), **TIGHT)


@pytest.mark.parametrize("method", ["riemann_right", "riemann_left", "riemann_middle", "gausslegendre"])
def test_integrated_gradients_equals_captum(cnn, images, method):
    # captum casts its quadrature weights to float32; with 16 steps the Riemann weights 1/16
    # are exact in float32, the Gauss-Legendre weights are not (hence rtol 1e-7 for them).
    baseline = torch.full_like(images, 0.3)
    ours = integrated_gradients(cnn, images, 1, baseline=baseline, steps=16, method=method)
    tol = dict(atol=1e-10, rtol=1e-7) if method == "gausslegendre" else TIGHT
    torch.testing.assert_close(ours, captum_ig(cnn, images, 1, 16, method, baseline), **tol)


def test_trapezoid_is_the_true_trapezoid_rule_captum_scales_it_by_n_minus_1_over_n(cnn, images):
    # captum 0.9 gives the trapezoid nodes linspace(0, 1, n) weights 1/n (halved at the ends),
    # which sum to (n - 1)/n instead of 1; our weights are 1/(n - 1), so ours = captum * n/(n - 1).
    n = 16
    ours = integrated_gradients(cnn, images, 1, steps=n, method="riemann_trapezoid")
    torch.testing.assert_close(ours, captum_ig(cnn, images, 1, n, "riemann_trapezoid") * n / (n - 1), **TIGHT)


def test_integrated_gradients_on_text_equals_captum_on_embeddings(text):
    ids, lengths = ids_batch(B=3, T=6), torch.tensor([6, 4, 5])
    ours = integrated_gradients(text, ids, torch.tensor([0, 2, 1]), steps=16, method="riemann_middle",
                                lengths=lengths)
    E = text.embed(ids).detach()
    theirs = captum_ig(text.forward_embedded, E, torch.tensor([0, 2, 1]), 16, "riemann_middle",
                       additional_forward_args=(lengths,))
    assert ours.shape == E.shape
    torch.testing.assert_close(ours, theirs, **TIGHT)


def test_language_model_target_position_token():
    lm = TinyTransformer(lm=True).double().eval()
    ids = ids_batch(B=2, T=5)
    ours = integrated_gradients(lm, ids, (3, 7), steps=8, method="riemann_middle")
    theirs = captum_ig(lambda E: lm.forward_embedded(E)[:, 3, :], lm.embed(ids).detach(), 7, 8, "riemann_middle")
    torch.testing.assert_close(ours, theirs, **TIGHT)
    # the position-3 logit cannot depend on tokens 4.. under a causal mask
    assert float(ours[:, 4:].abs().max()) == 0.0


# --- axioms and options --------------------------------------------------------------------

def test_completeness_gap_shrinks_as_steps_grow(text):
    ids = ids_batch(B=2, T=6)
    gaps = [integrated_gradients(text, ids, 1, steps=s, return_gap=True)[1].abs().max().item() for s in (4, 16, 64)]
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[2] < 0.3 * gaps[0]
    _, gap = integrated_gradients(text, ids, 1, steps=32, method="gausslegendre", return_gap=True)
    assert gap.abs().max() < 1e-6


def test_return_gap_agrees_with_completeness_gap(text):
    ids = ids_batch(B=2, T=5)
    attr, gap = integrated_gradients(text, ids, 2, baseline="pad", steps=10, return_gap=True)
    torch.testing.assert_close(gap, completeness_gap(text, ids, 2, attr, baseline="pad"), **TIGHT)
    pad = text.embed(torch.zeros_like(ids)).detach()
    torch.testing.assert_close(attr, integrated_gradients(text, ids, 2, baseline=pad, steps=10), **TIGHT)
    torch.testing.assert_close(attr, integrated_gradients(text, ids, 2, baseline=torch.zeros_like(ids), steps=10),
                               **TIGHT)


def test_internal_batch_size_does_not_change_the_result(cnn, images):
    full = integrated_gradients(cnn, images, 0, steps=10)
    torch.testing.assert_close(integrated_gradients(cnn, images, 0, steps=10, internal_batch_size=7), full, **TIGHT)


def test_one_baseline_broadcasts_over_the_batch(cnn, images):
    one = torch.full((1, 8, 8), 0.2, dtype=torch.float64)
    torch.testing.assert_close(integrated_gradients(cnn, images, 0, baseline=one, steps=6),
                               integrated_gradients(cnn, images, 0, baseline=one.expand_as(images), steps=6), **TIGHT)


def test_smoothgrad_is_seeded_and_reduces_to_the_gradient(cnn, images):
    a = smoothgrad(cnn, images, 1, n_samples=8, seed=3)
    torch.testing.assert_close(a, smoothgrad(cnn, images, 1, n_samples=8, seed=3, internal_batch_size=6), **TIGHT)
    assert not torch.allclose(a, smoothgrad(cnn, images, 1, n_samples=8, seed=4))
    torch.testing.assert_close(smoothgrad(cnn, images, 1, n_samples=3, noise_level=0.0),
                               saliency(cnn, images, 1, absolute=False), **TIGHT)
    linear = torch.nn.Linear(5, 2).double().eval()
    x = torch.randn(4, 5, dtype=torch.float64)
    torch.testing.assert_close(smoothgrad(linear, x, 1, n_samples=5), linear.weight[1].detach().expand(4, 5), **TIGHT)


@pytest.mark.parametrize("make", [TinyTransformer, TextCNN, TextLSTM])
def test_every_method_runs_on_text_models_and_gives_embedding_shapes(make):
    model = make().double().eval()
    ids = ids_batch(B=2, T=6)
    E = model.embed(ids)
    for method in (saliency, gradient_x_input, smoothgrad, integrated_gradients):
        attr = method(model, ids, 1)
        assert attr.shape == E.shape and torch.isfinite(attr).all()
        assert token_scores(attr).shape == (2, 6)
    torch.testing.assert_close(token_scores(attr), attr.sum(-1))
    torch.testing.assert_close(token_scores(attr, how="norm"), attr.pow(2).sum(-1).sqrt())


def test_every_method_runs_on_the_image_model(cnn, images):
    for method in (saliency, gradient_x_input, smoothgrad, integrated_gradients):
        assert method(cnn, images, 3).shape == images.shape


def test_works_under_no_grad(cnn, images):
    expected = integrated_gradients(cnn, images, 0, steps=4)
    with torch.no_grad():
        torch.testing.assert_close(integrated_gradients(cnn, images, 0, steps=4), expected, **TIGHT)
        assert not torch.is_grad_enabled()


def test_parameter_gradients_are_left_alone(cnn, images):
    integrated_gradients(cnn, images, 0, steps=4)
    assert all(p.grad is None for p in cnn.parameters())


# --- training mode -------------------------------------------------------------------------

def test_training_mode_warns_explains_in_eval_and_restores():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    x = torch.randn(3, 4)
    expected = integrated_gradients(model.eval(), x, 1, steps=5)
    model.train()
    with pytest.warns(UserWarning, match="training mode"):
        got = integrated_gradients(model, x, 1, steps=5)
    torch.testing.assert_close(got, expected)
    assert model.training
    with pytest.warns(UserWarning), pytest.raises(ValueError):
        saliency(model, x, 7)
    assert model.training and all(m.training for m in model.modules())


# --- bad input -----------------------------------------------------------------------------

def test_bad_inputs_raise_clear_errors(cnn, images, text):
    with pytest.raises(ValueError, match=r">= 1, got 0"):
        integrated_gradients(cnn, images, 0, steps=0)
    with pytest.raises(ValueError, match=r">= 2"):
        integrated_gradients(cnn, images, 0, steps=1, method="riemann_trapezoid")
    with pytest.raises(ValueError, match="method"):
        integrated_gradients(cnn, images, 0, method="simpson")
    with pytest.raises(ValueError, match=r"baseline: expected shape \(3, 1, 8, 8\)"):
        integrated_gradients(cnn, images, 0, baseline=torch.zeros(3, 8, 8, dtype=torch.float64))
    with pytest.raises(ValueError, match="pad"):
        integrated_gradients(cnn, images, 0, baseline="pad")
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        saliency(cnn, images, 4)
    with pytest.raises(TypeError, match="torch.Tensor"):
        saliency(cnn, images.tolist(), 0)
    with pytest.raises(TypeError, match="embed"):
        gradient_x_input(cnn, images.long(), 0)
    with pytest.raises(ValueError, match=r"ids in \[0, 12\)"):
        saliency(text, torch.tensor([[1, 12]]), 0)
    with pytest.raises(ValueError, match="n_samples"):
        smoothgrad(cnn, images, 0, n_samples=0)
    with pytest.raises(ValueError, match="noise_level"):
        smoothgrad(cnn, images, 0, noise_level=-1.0)
    with pytest.raises(ValueError, match="attributions: expected shape"):
        completeness_gap(cnn, images, 0, torch.zeros(3, 64, dtype=torch.float64))
    with pytest.raises(TypeError, match="attributions"):
        token_scores([1.0, 2.0])
    with pytest.raises(ValueError, match="how"):
        token_scores(torch.zeros(1, 2, 3), how="max")
