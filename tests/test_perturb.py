import pytest
import torch
from torch import nn

from llmxai.explain.perturb import exact_shapley, kernel_shap, leave_one_out, lime, occlusion

D = torch.float64


def linear(F=5, C=3, seed=0):
    torch.manual_seed(seed)
    return nn.Linear(F, C).to(D).eval()


def mlp(F=6, C=2, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(F, 8), nn.Tanh(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, C)).to(D).eval()


class BagOfTokens(nn.Module):
    """Logits = sum of per-token class weights; the padding id 0 contributes nothing."""

    def __init__(self, V=12, C=3, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.W = nn.Parameter(torch.randn(V, C, generator=g, dtype=D))
        with torch.no_grad():
            self.W[0] = 0
        self.eval()

    def forward(self, ids):
        return self.W[ids].sum(1)  # (B, C)


def x_of(B=2, F=5, seed=1):
    return torch.randn(B, F, generator=torch.Generator().manual_seed(seed), dtype=D)


def test_exact_shapley_on_linear_model_is_weight_times_difference():
    model, x = linear(), x_of()
    b = torch.randn(5, generator=torch.Generator().manual_seed(2), dtype=D)
    phi = exact_shapley(model, x, 1, baseline=b)
    torch.testing.assert_close(phi, model.weight[1] * (x - b), rtol=0, atol=1e-12)


def test_exact_shapley_efficiency_symmetry_and_dummy():
    model, x = mlp(), x_of(F=6)
    phi = exact_shapley(model, x, 0)
    gap = model(x)[:, 0] - model(torch.zeros_like(x))[:, 0]
    torch.testing.assert_close(phi.sum(1), gap, rtol=0, atol=1e-12)

    def f(z):  # symmetric in features 0 and 1; feature 3 is a dummy
        return torch.stack([z[:, 0] * z[:, 1] + z[:, 2] ** 2 + torch.sin(z[:, 0] + z[:, 1]), -z[:, 2]], 1)

    x = torch.tensor([[1.5, 1.5, -0.7, 2.0]], dtype=D)
    phi = exact_shapley(f_module(f), x, 0)
    torch.testing.assert_close(phi[0, 0], phi[0, 1], rtol=0, atol=1e-12)
    assert abs(float(phi[0, 3])) < 1e-12


class f_module(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        self.eval()

    def forward(self, x):
        return self.fn(x)


def test_exact_shapley_equals_captum_shapley_values():
    from captum.attr import ShapleyValues

    model, x = mlp(F=5), x_of(F=5)
    ours = exact_shapley(model, x, 1)
    theirs = ShapleyValues(model).attribute(x, target=1, baselines=torch.zeros_like(x))
    torch.testing.assert_close(ours, theirs.to(D), rtol=0, atol=1e-5)  # captum accumulates in float32


def test_kernel_shap_with_all_coalitions_equals_exact_shapley():
    model, x = mlp(), x_of(F=6)
    torch.testing.assert_close(kernel_shap(model, x, 1, n_samples=62), exact_shapley(model, x, 1), rtol=0, atol=1e-10)


def test_kernel_shap_sampled_is_efficient_and_close_to_exact():
    model, x = mlp(F=10), x_of(B=1, F=10)
    exact = exact_shapley(model, x, 0)
    approx = kernel_shap(model, x, 0, n_samples=400, seed=3)
    gap = model(x)[:, 0] - model(torch.zeros_like(x))[:, 0]
    torch.testing.assert_close(approx.sum(1), gap, rtol=0, atol=1e-10)
    assert (approx - exact).norm() < 0.1 * exact.norm()
    torch.testing.assert_close(kernel_shap(model, x, 0, n_samples=400, seed=3), approx, rtol=0, atol=0)


def test_kernel_shap_groups_features_with_a_mask():
    model, x = linear(F=6), x_of(F=6)
    groups = torch.tensor([0, 0, 1, 1, 2, 2])
    phi = kernel_shap(model, x, 2, feature_mask=groups)
    per_group = (model.weight[2] * x).reshape(2, 3, 2).sum(-1)
    torch.testing.assert_close(phi, per_group.repeat_interleave(2, dim=1), rtol=0, atol=1e-10)


def test_lime_recovers_linear_weights():
    model = linear(F=7)
    x = torch.ones(2, 7, dtype=D)
    w = lime(model, x, 0, alpha=0.0, n_samples=200)
    torch.testing.assert_close(w, model.weight[0].expand(2, 7), rtol=0, atol=1e-8)
    shrunk = lime(model, x, 0, alpha=1.0, n_samples=200)
    assert (shrunk - w).abs().max() < 0.2 * w.abs().max()


def test_lime_is_seeded():
    model, x = mlp(), x_of(F=6)
    a, b = lime(model, x, 1, seed=5), lime(model, x, 1, seed=5)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, lime(model, x, 1, seed=6))


def test_occlusion_on_linear_model_is_weight_times_input():
    model, x = linear(), x_of()
    torch.testing.assert_close(occlusion(model, x, 2), model.weight[2] * x, rtol=0, atol=1e-12)
    torch.testing.assert_close(leave_one_out(model, x, 2), model.weight[2] * x, rtol=0, atol=1e-12)


def test_occlusion_sliding_window_averages_over_covering_windows():
    model = BagOfTokens()
    ids = torch.tensor([[3, 5, 7, 2, 9]])
    contrib = model.W[ids[0], 1]  # (T,)
    out = occlusion(model, ids, 1, window=2, stride=1)
    # Windows start at 0..3; position t is covered by windows starting at t-1 and t.
    win = torch.stack([contrib[s:s + 2].sum() for s in range(4)])
    expected = torch.stack([win[0], (win[0] + win[1]) / 2, (win[1] + win[2]) / 2, (win[2] + win[3]) / 2, win[3]])
    torch.testing.assert_close(out[0], expected, rtol=0, atol=1e-12)
    assert out.shape == ids.shape


def test_occlusion_on_image_patches_equals_captum():
    from captum.attr import Occlusion

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 6 * 6, 4)).to(D).eval()
    x = torch.randn(2, 2, 6, 6, dtype=D)
    ours = occlusion(model, x, 3, window=(2, 2), stride=(2, 2))
    theirs = Occlusion(model).attribute(x, sliding_window_shapes=(2, 2, 2), strides=(2, 2, 2), target=3,
                                          baselines=torch.zeros_like(x))
    torch.testing.assert_close(ours, theirs.to(D), rtol=0, atol=1e-5)  # captum accumulates in float32


def test_leave_one_out_on_tokens_is_the_token_weight():
    model = BagOfTokens()
    ids = torch.tensor([[3, 5, 7, 2], [1, 1, 4, 0]])
    target = torch.tensor([0, 2])
    out = leave_one_out(model, ids, target)
    expected = model.W[ids, target[:, None]]  # (B, T)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(occlusion(model, ids, target), expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(exact_shapley(model, ids, target), expected, rtol=0, atol=1e-12)


def test_callable_and_language_model_targets():
    model = BagOfTokens()
    ids = torch.tensor([[3, 5, 7]])
    by_callable = leave_one_out(model, ids, lambda out: out[:, 1] - out[:, 0])
    torch.testing.assert_close(by_callable[0], model.W[ids[0], 1] - model.W[ids[0], 0], rtol=0, atol=1e-12)

    lm = f_module(lambda i: model.W[i].cumsum(1))  # (B, T, V=3): a causal "language model"
    out = leave_one_out(lm, ids, (1, 2))
    torch.testing.assert_close(out[0], torch.stack([model.W[3, 2], model.W[5, 2], torch.zeros((), dtype=D)]))


def test_training_mode_warns_and_is_restored():
    model = mlp()
    model.train()
    with pytest.warns(UserWarning, match="training mode"):
        occlusion(model, x_of(F=6), 0)
    assert model.training


@pytest.mark.parametrize("call, match", [
    (lambda m, x: exact_shapley(m, torch.zeros(1, 11, dtype=D), 0), "at most 10 features"),
    (lambda m, x: kernel_shap(m, x, 0, feature_mask=torch.tensor([0, 1])), "feature_mask: expected shape"),
    (lambda m, x: lime(m, x, 0, feature_mask=torch.tensor([0, 0, 2, 2, 3])), "none missing"),
    (lambda m, x: occlusion(m, x, 0, baseline=torch.zeros(3, dtype=D)), "baseline: expected shape"),
    (lambda m, x: occlusion(m, x, 7), r"class index in \[0, 3\)"),
    (lambda m, x: leave_one_out(m, x, torch.tensor([0])), "batch size"),
    (lambda m, x: occlusion(m, x, 0, window=6), "within the sample shape"),
    (lambda m, x: occlusion(m, x, 0, window=(1, 1)), "at most 1 sizes"),
    (lambda m, x: kernel_shap(m, x, 0, n_samples=0), ">= 1"),
    (lambda m, x: lime(m, x, 0, kernel_width=0), "kernel_width"),
    (lambda m, x: lime(m, x, 0, alpha=-1.0), "alpha"),
    (lambda m, x: occlusion(m, torch.zeros(0, 5, dtype=D), 0), "at least one sample"),
    (lambda m, x: occlusion(m, torch.zeros(5, dtype=D), 0), "at least 2 dimensions"),
    (lambda m, x: exact_shapley(m, x, 0, baseline=torch.zeros(5, dtype=torch.long)), "dtype like inputs"),
])
def test_bad_input_raises_clear_errors(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call(linear(), x_of())


def test_bad_target_types_and_token_baseline():
    model = BagOfTokens()
    with pytest.raises(TypeError, match="int replacement id"):
        leave_one_out(model, torch.tensor([[1, 2]]), 0, baseline=0.5)
    with pytest.raises(TypeError, match="expected an int, a"):
        leave_one_out(model, torch.tensor([[1, 2]]), "positive")
    with pytest.raises(ValueError, match="one score per row"):
        leave_one_out(model, torch.tensor([[1, 2]]), lambda out: out)
