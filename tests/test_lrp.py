"""LRP: fast pass vs literal matrix rules, gradient x input, conservation, captum, bad input."""

import copy

import pytest
import torch
from torch import nn

from llmxai.explain.lrp import (AlphaBeta, Epsilon, Flat, Gamma, ZBox, ZPlus, Zero, conservation, linear_relevance, lrp,
                                lrp_literal)

RULES = ["zero", "epsilon", "gamma", "zplus", "alpha_beta", "flat", "zbox"]


def make_rule(name):
    return ZBox(-3.0, 3.0) if name == "zbox" else name


def mlp(bias=True):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8, bias=bias), nn.ReLU(), nn.Linear(8, 8, bias=bias), nn.Tanh(),
                         nn.Dropout(0.5), nn.Linear(8, 3, bias=bias)).double().eval()


def cnn(bias=True):
    torch.manual_seed(1)
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=bias), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 5, 3, padding=1, bias=bias), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
                         nn.Linear(20, 3, bias=bias)).double().eval()


def cnn1d(bias=True):
    torch.manual_seed(2)
    return nn.Sequential(nn.Conv1d(3, 4, 3, padding=1, bias=bias), nn.ReLU(), nn.MaxPool1d(2),
                         nn.Conv1d(4, 4, 2, dilation=2, bias=bias), nn.ReLU(), nn.AvgPool1d(2), nn.Flatten(),
                         nn.Linear(4, 2, bias=bias)).double().eval()


def data(model):
    g = torch.Generator().manual_seed(3)
    first = next(m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)))
    shape = {nn.Linear: (4, 6), nn.Conv2d: (3, 2, 8, 8), nn.Conv1d: (3, 3, 9)}[type(first)]
    return torch.randn(*shape, generator=g, dtype=torch.float64)


MODELS = [mlp, cnn, cnn1d]


@pytest.mark.parametrize("build", MODELS)
@pytest.mark.parametrize("rule", RULES)
def test_fast_equals_literal_with_rule_on_first_layer(build, rule):
    model = build()
    x = data(model)
    rule_map = {"0": make_rule(rule)}
    a, la = lrp(model, x, 1, epsilon=1e-3, rule_map=rule_map, return_layers=True)
    b, lb = lrp_literal(model, x, 1, epsilon=1e-3, rule_map=rule_map, return_layers=True)
    assert list(la) == list(lb)
    for name in lb:
        torch.testing.assert_close(la[name], lb[name], rtol=0, atol=1e-10)
    assert a.shape == x.shape and a.abs().sum() > 0
    torch.testing.assert_close(a, lrp(model, x, 1, epsilon=1e-3, rule_map=rule_map), rtol=0, atol=1e-12)


@pytest.mark.parametrize("build", MODELS)
@pytest.mark.parametrize("rule", ["zero", "epsilon", "gamma", "zplus", "alpha_beta"])
def test_fast_equals_literal_with_rule_everywhere(build, rule):
    model = build()
    x = data(model)
    a = lrp(model, x, 0, rule=rule, epsilon=1e-2, gamma=0.5)
    b = lrp_literal(model, x, 0, rule=rule, epsilon=1e-2, gamma=0.5)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


def test_float32_models_work_and_agree_loosely():
    model = cnn().float()
    x = data(model).float()
    a, b = lrp(model, x, 1, rule="gamma"), lrp_literal(model, x, 1, rule="gamma")
    assert a.dtype == torch.float32
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_rule_objects_equal_names_and_differ_from_each_other():
    model, x = mlp(), data(mlp())
    torch.testing.assert_close(lrp(model, x, 2, rule=Epsilon(0.1)), lrp(model, x, 2, rule="epsilon", epsilon=0.1))
    torch.testing.assert_close(lrp(model, x, 2, rule=ZPlus()), lrp(model, x, 2, rule=AlphaBeta(1, 0)))
    torch.testing.assert_close(lrp(model, x, 2, rule=Gamma(0.0)), lrp(model, x, 2, rule=Zero()), atol=1e-8, rtol=0)
    results = [lrp(model, x, 2, rule=r) for r in ["epsilon", Gamma(1.0), "zplus", "alpha_beta"]]
    results.append(lrp(model, x, 2, rule_map={"0": Flat()}))
    for i in range(len(results)):
        for j in range(i):
            assert (results[i] - results[j]).abs().max() > 1e-3


@pytest.mark.parametrize("build", [mlp, cnn])
def test_lrp0_is_gradient_times_input_on_relu_networks(build):
    """Montavon et al. 2019: LRP-0 = gradient x input on ReLU nets; the source's ReLU(grad x input) is not LRP."""
    model = build()
    model[3] = nn.ReLU() if build is mlp else model[3]
    x = data(model).requires_grad_(True)
    (g,) = torch.autograd.grad(model(x)[:, 1].sum(), x)
    R = lrp(model, x, 1, rule="epsilon", epsilon=0.0)
    torch.testing.assert_close(R, (g * x).detach(), rtol=0, atol=1e-12)
    assert (R < 0).any()
    assert (R - torch.relu(g * x)).abs().max() > 1e-3


@pytest.mark.parametrize("build, rule", [(b, r) for b in MODELS for r in ["zero", "gamma"]]
                         + [(cnn, "zplus"), (cnn, "alpha_beta"), (cnn1d, "zplus")])
def test_conservation_layer_by_layer_without_bias(build, rule):
    model = build(bias=False)
    x = data(model)
    R, layers = lrp(model, x, 1, rule=rule, epsilon=0.0, return_layers=True)
    c = conservation(layers)
    assert c.max_leak() < 1e-6
    torch.testing.assert_close(c.sums[-1], model(x)[:, 1].detach(), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("build", [mlp, cnn])
def test_leak_is_reported_where_bias_and_epsilon_absorb(build):
    model = build()
    x = data(model)
    eps = 0.1
    R, layers = lrp(model, x, 1, rule="epsilon", epsilon=eps, return_layers=True)
    c = conservation(layers)
    torch.testing.assert_close(c.total_leak, c.leaks.sum(0))
    torch.testing.assert_close(c.sums[0] - c.total_leak, R.reshape(len(x), -1).sum(1))
    assert c.leaks.abs().max() > 1e-3
    # The top layer absorbs sum_j R_j (b_j + eps sign z_j) / (z_j + eps sign z_j); activations absorb nothing.
    top = model[-1]
    a = layers[str(len(model) - 1)]
    z = model(x).detach()
    s = torch.where(z >= 0, 1.0, -1.0).double()
    R_out = layers["output"]
    absorbed = (R_out * (top.bias + eps * s) / (z + eps * s)).sum(1)
    torch.testing.assert_close(c.leaks[0], absorbed)
    assert a.shape[1] == top.in_features
    for k, name in enumerate(c.names[1:-1]):
        if isinstance(model[int(name)], (nn.ReLU, nn.Tanh, nn.Dropout, nn.Flatten, nn.MaxPool2d)):
            assert float(c.leaks[k].abs().max()) < 1e-12


def test_alpha_beta_leaks_exactly_the_neurons_without_positive_or_negative_parts():
    """z+ / alpha-beta conserve only where each neuron has contributions of both signs (bias-free layer)."""
    torch.manual_seed(7)
    a = torch.rand(5, 4, dtype=torch.float64)
    W = torch.randn(3, 4, dtype=torch.float64)
    W[0] = W[0].abs()  # neuron 0: no negative contributions, so beta's share has nowhere to go
    R = torch.randn(5, 3, dtype=torch.float64)
    R_in = linear_relevance(a, W, None, R, AlphaBeta(2.0, 1.0, epsilon=0.0))
    torch.testing.assert_close(R.sum(1) - R_in.sum(1), -1.0 * R[:, 0], rtol=0, atol=1e-12)
    R_in = linear_relevance(a, W, None, R, ZPlus(epsilon=0.0))
    torch.testing.assert_close(R_in.sum(1), R.sum(1), rtol=0, atol=1e-12)


def test_linear_relevance_by_hand_and_bad_input():
    a = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    W = torch.tensor([[1.0, -0.5]], dtype=torch.float64)  # z = 1 - 1 + b
    b = torch.tensor([0.5], dtype=torch.float64)
    R = torch.tensor([[2.0]], dtype=torch.float64)
    # z_11 = 1, z_21 = -1, z_1 = 0.5: R_1 = 1 / 0.5 * 2 = 4, R_2 = -4 (and the bias absorbs 2).
    torch.testing.assert_close(linear_relevance(a, W, b, R, Zero()), torch.tensor([[4.0, -4.0]], dtype=torch.float64))
    # z+: only z_11 is positive, so it takes all of R.
    torch.testing.assert_close(linear_relevance(a, W, b, R, ZPlus(epsilon=0.0)),
                               torch.tensor([[2.0, 0.0]], dtype=torch.float64))
    # z^B on [0, 3]: z_i1 = x_i w_i1 - l_i w^+ - h_i w^- = (1, -1 + 1.5), shares 1 : 0.5.
    torch.testing.assert_close(linear_relevance(a, W, None, R, ZBox(0.0, 3.0, epsilon=0.0)),
                               torch.tensor([[4 / 3, 2 / 3]], dtype=torch.float64))
    with pytest.raises(ValueError, match="input features"):
        linear_relevance(a, W.T, b, R, Zero())
    with pytest.raises(ValueError, match=r"R: shape \(N, out\)"):
        linear_relevance(a, W, b, R.T.repeat(1, 2), Zero())
    with pytest.raises(TypeError, match="Rule object"):
        linear_relevance(a, W, b, R, "epsilon")


def test_flat_and_zbox_need_the_input_layer_in_the_fast_pass():
    model, x = mlp(), data(mlp())
    with pytest.raises(ValueError, match="fed directly by the inputs"):
        lrp(model, x, 0, rule_map={"2": "flat"})
    assert hooks_left(model) == 0
    R, layers = lrp_literal(model, x, 0, rule="flat", return_layers=True)
    assert conservation(layers).leaks[2:].abs().max() < 1e-8


class CaptumCNN(nn.Module):
    """Captum's LRP needs every layer as a child module; flattening happens in forward."""

    def __init__(self, bias=True):
        super().__init__()
        torch.manual_seed(4)
        self.conv1, self.relu1, self.pool = nn.Conv2d(2, 4, 3, padding=1, bias=bias), nn.ReLU(), nn.MaxPool2d(2)
        self.conv2, self.relu2 = nn.Conv2d(4, 5, 3, bias=bias), nn.ReLU()
        self.fc = nn.Linear(20, 3, bias=bias)

    def forward(self, x):
        h = self.relu2(self.conv2(self.pool(self.relu1(self.conv1(x)))))
        return self.fc(h.flatten(1))


def test_epsilon_and_gamma_agree_with_captum():
    from captum.attr import LRP
    from captum.attr._utils.lrp_rules import EpsilonRule, GammaRule

    torch.manual_seed(5)
    models = [(nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)).double().eval(), torch.randn(4, 6).double()),
              (CaptumCNN().double().eval(), torch.randn(3, 2, 8, 8).double())]
    for model, x in models:
        eps = 1e-2
        ours = lrp(model, x, 2, rule="epsilon", epsilon=eps)
        theirs_model = copy.deepcopy(model)
        for m in theirs_model.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                m.rule = EpsilonRule(epsilon=eps)
            if isinstance(m, nn.MaxPool2d):
                m.rule = EpsilonRule(epsilon=1e-300)
        theirs = LRP(theirs_model).attribute(x.clone(), target=2)
        torch.testing.assert_close(ours, theirs, rtol=1e-9, atol=1e-10)
    model = CaptumCNN(bias=False).double().eval()
    x = torch.randn(3, 2, 8, 8).double()
    ours = lrp(model, x, 0, rule="epsilon", epsilon=1e-9, rule_map={nn.Conv2d: Gamma(0.3, epsilon=1e-9)})
    theirs_model = copy.deepcopy(model)
    for m in theirs_model.modules():
        if isinstance(m, nn.Conv2d):
            m.rule = GammaRule(gamma=0.3)
        elif isinstance(m, nn.Linear):
            m.rule = EpsilonRule(epsilon=1e-9)
        elif isinstance(m, nn.MaxPool2d):
            m.rule = EpsilonRule(epsilon=1e-300)
    theirs = LRP(theirs_model).attribute(x.clone(), target=0)
    torch.testing.assert_close(ours, theirs, rtol=1e-7, atol=1e-10)


class Nested(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(6)
        self.features = nn.Sequential(nn.Conv1d(3, 4, 3), nn.ReLU(), nn.Sequential(nn.Conv1d(4, 4, 3), nn.GELU()))
        self.head = nn.Sequential(nn.Linear(4 * 5, 6), nn.ReLU(), nn.Linear(6, 2))

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


def test_nested_modules_rule_map_by_name_then_type():
    model = Nested().double().eval()
    x = torch.randn(2, 3, 9, dtype=torch.float64)
    rule_map = {"features.0": ZBox(-4.0, 4.0), "head": "zplus", nn.Conv1d: Gamma(0.5), nn.Linear: "alpha_beta"}
    a = lrp(model, x, 1, rule_map=rule_map)
    b = lrp_literal(model, x, 1, rule_map=rule_map)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
    by_hand = {"features.0": ZBox(-4.0, 4.0), "features.2.0": Gamma(0.5), "head.0": "zplus", "head.2": "zplus"}
    torch.testing.assert_close(a, lrp(model, x, 1, rule_map=by_hand), rtol=0, atol=1e-12)


def test_gradient_rule_on_a_container_and_layers_that_do_not_see_the_input():
    model = Nested().double().eval()
    x = torch.randn(2, 3, 9, dtype=torch.float64, requires_grad=True)
    R, layers = lrp(model, x, 0, epsilon=0.0, rule_map={"features": "gradient"}, return_layers=True)
    assert "features" in layers and not any(k.startswith("features.") for k in layers)
    h = model.features(x)
    (g,) = torch.autograd.grad(model.head(h.flatten(1))[:, 0].sum(), x)
    torch.testing.assert_close(R, (g * x).detach(), rtol=0, atol=1e-12)  # ReLU head with eps = 0: gradient x input

    class Offset(nn.Module):
        def __init__(self):
            super().__init__()
            self.bias_path, self.main = nn.Linear(2, 3), nn.Linear(3, 3)

        def forward(self, x):
            return self.main(x) + self.bias_path(torch.ones(len(x), 2, dtype=x.dtype))

    assert lrp(Offset().double().eval(), torch.randn(2, 3, dtype=torch.float64), 1).shape == (2, 3)


def test_target_forms_agree():
    model, x = mlp(), data(mlp())
    t = torch.tensor([1, 1, 1, 1])
    a = lrp(model, x, 1)
    torch.testing.assert_close(a, lrp(model, x, t))
    torch.testing.assert_close(a, lrp(model, x, lambda out: out[:, 1]))
    mixed = lrp(model, x, torch.tensor([0, 1, 2, 1]))
    torch.testing.assert_close(mixed[1], a[1])


def test_language_model_target_position_and_token():
    torch.manual_seed(8)
    lm = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 7)).double().eval()  # (B, T, d) -> (B, T, V)
    x = torch.randn(2, 5, 4, dtype=torch.float64)
    R = lrp(lm, x, (3, 6), epsilon=0.0)
    assert R[:, 3].abs().sum() > 0 and R[:, [0, 1, 2, 4]].abs().max() == 0
    torch.testing.assert_close(R[:, 3], lrp(lm, x[:, 3], 6, epsilon=0.0))
    with pytest.raises(ValueError, match="position"):
        lrp(lm, x, (5, 0))
    with pytest.raises(ValueError, match="position, token"):
        lrp(lm, x, 0)


def hooks_left(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules())


def test_unsupported_layer_names_type_and_rule_map_and_hooks_are_removed():
    model = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), nn.Linear(4, 2)).double().eval()
    x = torch.randn(2, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"'1' of type LayerNorm.*rule_map"):
        lrp(model, x, 0)
    assert hooks_left(model) == 0
    R = lrp(model, x, 0, rule_map={nn.LayerNorm: "gradient"})
    assert R.shape == x.shape and hooks_left(model) == 0

    def bad_target(out):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        lrp(mlp(), data(mlp()), bad_target, return_layers=True)
    with pytest.raises(ValueError, match="literal LRP"):
        lrp_literal(model, x, 0)
    assert hooks_left(model) == 0


def test_training_mode_warns_and_is_restored():
    model = mlp().train()
    with pytest.warns(UserWarning, match="training mode"):
        R = lrp(model, data(model), 0)
    assert model.training
    torch.testing.assert_close(R, lrp(model.eval(), data(model), 0))


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(target=3), ValueError, r"index in \[0, 3\)"),
    (dict(target=-1), ValueError, r"index in"),
    (dict(target=1.5), TypeError, "target"),
    (dict(target=torch.tensor([0, 1])), ValueError, r"\(4,\) integer tensor"),
    (dict(target=lambda out: out), ValueError, "callable must return one score per row"),
    (dict(target=0, rule="lrp-7"), ValueError, "one of"),
    (dict(target=0, rule="zbox"), ValueError, "ZBox"),
    (dict(target=0, rule_map={"nope": "zplus"}), ValueError, "no layer named 'nope'"),
    (dict(target=0, rule_map={1: "zplus"}), TypeError, "keys"),
    (dict(target=0, rule_map={nn.ReLU: "zplus"}), ValueError, "no weights"),
    (dict(target=0, epsilon=-1.0), ValueError, "epsilon"),
    (dict(target=0, return_layers="yes"), TypeError, "return_layers"),
])
def test_bad_input(kwargs, error, match):
    model, x = mlp(), data(mlp())
    with pytest.raises(error, match=match):
        lrp(model, x, **kwargs)
    assert hooks_left(model) == 0


def test_bad_inputs_and_rule_parameters():
    model = mlp()
    with pytest.raises(TypeError, match="torch.Tensor"):
        lrp(model, [[1.0] * 6], 0)
    with pytest.raises(ValueError, match="finite"):
        lrp(model, torch.full((1, 6), float("nan"), dtype=torch.float64), 0)
    with pytest.raises(TypeError, match="nn.Module"):
        lrp(lambda x: x, torch.ones(1, 6), 0)
    with pytest.raises(TypeError, match="embed"):
        lrp(model, torch.ones(1, 6, dtype=torch.long), 0)
    with pytest.raises(ValueError, match="alpha - beta = 1"):
        AlphaBeta(2.0, 2.0)
    with pytest.raises(ValueError, match="gamma"):
        Gamma(-1.0)
    with pytest.raises(TypeError, match="dict or list"):
        conservation(torch.ones(3))
    with pytest.raises(ValueError, match="batch size"):
        conservation([torch.ones(2, 3), torch.ones(3, 3)])
