import math
import random

import pytest
import torch
import torch.nn.functional as F

from llmxai.optim import (
    SGD, Adam, AdamW, TwoLayerSigmoidNet, Value, cross_entropy, finite_difference_grad,
    gradient_descent, graph, linear_regression_step, log_softmax, mse, sigmoid_neuron, softmax,
)

f64 = torch.float64


def close(a, b, tol=1e-10):
    torch.testing.assert_close(a, b, atol=tol, rtol=0)


# ---------------------------------------------------------------- losses

def test_losses_equal_torch_in_value_and_gradient():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(5, 4, generator=g, dtype=f64, requires_grad=True)
    y = torch.randint(0, 4, (5,), generator=g)
    target = torch.randn(5, 4, generator=g, dtype=f64)
    for ours, theirs in ((cross_entropy(z, y), F.cross_entropy(z, y)), (mse(z, target), F.mse_loss(z, target))):
        close(ours, theirs)
        close(torch.autograd.grad(ours, z)[0], torch.autograd.grad(theirs, z)[0])
    close(cross_entropy(z[0], y[0]), F.cross_entropy(z[0], y[0]))
    close(log_softmax(z), F.log_softmax(z, -1))
    close(softmax(z, dim=0), F.softmax(z, 0))
    close(softmax(z).sum(-1), torch.ones(5, dtype=f64))


def test_cross_entropy_is_stable_for_huge_logits():
    z = torch.tensor([[1e4, 0.0, -1e4], [5e3, 5e3, 0.0]], dtype=f64)
    loss = cross_entropy(z, torch.tensor([1, 0]))
    assert torch.isfinite(loss)
    close(loss, torch.tensor((1e4 + math.log(2)) / 2, dtype=f64))


@pytest.mark.parametrize("call, error", [
    (lambda: mse(torch.zeros(3), torch.zeros(4)), ValueError),
    (lambda: mse([1.0], torch.zeros(1)), TypeError),
    (lambda: mse(torch.zeros(0), torch.zeros(0)), ValueError),
    (lambda: cross_entropy(torch.zeros(2, 3), torch.tensor([0, 3])), ValueError),
    (lambda: cross_entropy(torch.zeros(2, 3), torch.tensor([0.0, 1.0])), TypeError),
    (lambda: cross_entropy(torch.zeros(2, 3), torch.tensor([0, 1, 2])), ValueError),
    (lambda: cross_entropy(torch.zeros(2, 3, 4), torch.zeros(2, 3, dtype=torch.long)), ValueError),
    (lambda: cross_entropy(torch.tensor([[0.0, float("nan")]]), torch.tensor([0])), ValueError),
    (lambda: softmax(torch.tensor([1, 2])), TypeError),
])
def test_losses_reject_bad_input(call, error):
    with pytest.raises(error):
        call()


# ---------------------------------------------------------------- gradient descent

@pytest.mark.parametrize("lr, behaviour", [(0.1, "converges"), (0.9, "oscillates"), (1.1, "diverges")])
def test_gradient_descent_on_a_parabola(lr, behaviour):
    # L = theta^2, so each step multiplies theta by (1 - 2 lr)
    path = gradient_descent(lambda t: 2 * t, torch.tensor([1.0], dtype=f64), lr, 20)
    assert path.shape == (21, 1)
    close(path[:, 0], (1 - 2 * lr) ** torch.arange(21, dtype=f64))
    signs = torch.sign(path[1:, 0])
    if behaviour == "converges":
        assert (signs > 0).all() and abs(path[-1, 0]) < 0.02
    elif behaviour == "oscillates":
        assert (signs[1:] != signs[:-1]).all() and abs(path[-1, 0]) < 0.02
    else:
        assert abs(path[-1, 0]) > 30


def test_linear_step_from_the_source_example_does_not_move():
    s = linear_regression_step(w=2, b=0, x=1, y=2, lr=0.1)
    assert (s.prediction, s.loss, s.grad_w, s.grad_b) == (2.0, 0.0, 0.0, 0.0)
    assert (s.new_w, s.new_b) == (2.0, 0.0)


def test_linear_step_that_moves_matches_autograd():
    s = linear_regression_step(w=1, b=0, x=1, y=2, lr=0.1)
    assert (s.prediction, s.loss, s.grad_w, s.grad_b) == (1.0, 1.0, -2.0, -2.0)
    assert s.new_w == pytest.approx(1.2) and s.new_b == pytest.approx(0.2) and s.new_loss < s.loss
    rng = random.Random(0)
    for _ in range(20):
        w, b, x, y = (rng.uniform(-3, 3) for _ in range(4))
        lr = rng.uniform(0, 0.2)
        s = linear_regression_step(w, b, x, y, lr)
        wt, bt = torch.tensor(w, dtype=f64, requires_grad=True), torch.tensor(b, dtype=f64, requires_grad=True)
        loss = (wt * x + bt - y) ** 2
        gw, gb = torch.autograd.grad(loss, (wt, bt))
        assert s.loss == pytest.approx(loss.item(), abs=1e-12)
        assert (s.grad_w, s.grad_b) == (pytest.approx(gw.item(), abs=1e-12), pytest.approx(gb.item(), abs=1e-12))
        assert s.new_w == pytest.approx(w - lr * gw.item(), abs=1e-12)


@pytest.mark.parametrize("call, error", [
    (lambda: gradient_descent(None, torch.zeros(2), 0.1, 3), TypeError),
    (lambda: gradient_descent(lambda t: t, [1.0], 0.1, 3), TypeError),
    (lambda: gradient_descent(lambda t: t, torch.zeros(2), -0.1, 3), ValueError),
    (lambda: gradient_descent(lambda t: t, torch.zeros(2), 0.1, 2.5), TypeError),
    (lambda: gradient_descent(lambda t: t.sum(), torch.zeros(2), 0.1, 3), ValueError),
    (lambda: linear_regression_step("2", 0, 1, 2, 0.1), TypeError),
    (lambda: linear_regression_step(2, 0, float("nan"), 2, 0.1), ValueError),
    (lambda: linear_regression_step(2, 0, 1, 2, float("inf")), ValueError),
])
def test_gradient_descent_rejects_bad_input(call, error):
    with pytest.raises(error):
        call()


# ---------------------------------------------------------------- SGD and Adam against torch.optim

def mlp_params(seed=0):
    g = torch.Generator().manual_seed(seed)
    shapes = [(3, 5), (5,), (5, 1), (1,)]
    return [torch.randn(*s, generator=g, dtype=f64).requires_grad_() for s in shapes]


def mlp_loss(params, x, y):
    W1, b1, W2, b2 = params
    return mse(torch.tanh(x @ W1 + b1) @ W2 + b2, y)


def follow(ours_cls, theirs_cls, kwargs, steps=100):
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(8, 3, generator=g, dtype=f64), torch.randn(8, 1, generator=g, dtype=f64)
    ours, theirs = mlp_params(), mlp_params()
    opt_ours, opt_theirs = ours_cls(ours, **kwargs), theirs_cls(theirs, **kwargs)
    for _ in range(steps):
        for params, opt in ((ours, opt_ours), (theirs, opt_theirs)):
            opt.zero_grad()
            mlp_loss(params, x, y).backward()
            opt.step()
        for a, b in zip(ours, theirs):
            close(a, b, tol=1e-8)
    return ours, x, y


@pytest.mark.parametrize("kwargs", [
    dict(lr=0.1),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01),
    dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.001),
], ids=["plain", "momentum", "dampening+decay", "nesterov"])
def test_sgd_follows_torch_for_100_steps(kwargs):
    params, x, y = follow(SGD, torch.optim.SGD, kwargs)
    assert mlp_loss(params, x, y) < mlp_loss(mlp_params(), x, y)


@pytest.mark.parametrize("cls, theirs, kwargs", [
    (Adam, torch.optim.Adam, dict(lr=0.01)),
    (Adam, torch.optim.Adam, dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05)),
    (AdamW, torch.optim.AdamW, dict(lr=0.02, weight_decay=0.1)),
], ids=["adam", "adam+decay", "adamw"])
def test_adam_follows_torch_for_100_steps(cls, theirs, kwargs):
    params, x, y = follow(cls, theirs, kwargs)
    assert mlp_loss(params, x, y) < mlp_loss(mlp_params(), x, y)


def test_optimizer_interface():
    p, q = torch.ones(2, dtype=f64, requires_grad=True), torch.ones(2, dtype=f64, requires_grad=True)
    opt = SGD([p, q], lr=0.5)
    loss = opt.step(lambda: (p**2).sum())  # closure: a backward is the caller's job, so nothing moves
    assert loss.item() == 2.0 and torch.equal(p, torch.ones(2, dtype=f64))
    (p**2).sum().backward()
    opt.step()  # q has no gradient and must be left alone
    close(p.detach(), torch.zeros(2, dtype=f64))
    assert torch.equal(q, torch.ones(2, dtype=f64))
    opt.zero_grad()
    assert p.grad is None
    (p.sum()).backward()
    opt.zero_grad(set_to_none=False)
    assert torch.equal(p.grad, torch.zeros(2, dtype=f64))


@pytest.mark.parametrize("call, error", [
    (lambda p: SGD(p, lr=-0.1), ValueError),
    (lambda p: SGD(p, lr="0.1"), TypeError),
    (lambda p: SGD(p, lr=0.1, momentum=-0.5), ValueError),
    (lambda p: SGD(p, lr=0.1, nesterov=True), ValueError),
    (lambda p: SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), ValueError),
    (lambda p: SGD(p[0], lr=0.1), TypeError),
    (lambda p: SGD([], lr=0.1), ValueError),
    (lambda p: SGD([torch.zeros(2, dtype=torch.long)], lr=0.1), TypeError),
    (lambda p: SGD([torch.zeros(2)], lr=0.1), ValueError),
    (lambda p: SGD(3, lr=0.1), TypeError),
    (lambda p: Adam(p, betas=(0.9, 1.0)), ValueError),
    (lambda p: Adam(p, betas=(-0.1, 0.9)), ValueError),
    (lambda p: Adam(p, betas=0.9), TypeError),
    (lambda p: Adam(p, eps=-1e-8), ValueError),
    (lambda p: Adam(p, lr=float("nan")), ValueError),
    (lambda p: AdamW(p, weight_decay=-1.0), ValueError),
])
def test_optimizers_reject_bad_hyperparameters(call, error):
    with pytest.raises(error):
        call(mlp_params())


# ---------------------------------------------------------------- scalar autograd engine

def random_expression(seed, n_inputs=4, n_ops=25):
    """Build the same random expression with Value and with float64 torch scalars."""
    rng = random.Random(seed)
    inputs = [rng.uniform(-2, 2) for _ in range(n_inputs)]
    ours = [Value(v) for v in inputs]
    theirs = [torch.tensor(v, dtype=f64, requires_grad=True) for v in inputs]
    pool = list(zip(ours, theirs))
    for _ in range(n_ops):
        (a, ta), (b, tb) = rng.choice(pool), rng.choice(pool)  # reuse makes a DAG, not a tree
        c = rng.uniform(-2, 2)
        op = rng.choice(["add", "sub", "mul", "div", "radd", "rsub", "rmul", "rdiv", "pow",
                         "exp", "log", "tanh", "sigmoid", "relu", "neg"])
        if op == "div" and abs(b.data) < 0.2 or op == "rdiv" and abs(a.data) < 0.2:
            op = "mul"
        if op == "log" and a.data < 0.1 or op == "exp" and a.data > 3 or abs(a.data) > 50:
            op = "tanh"
        k = rng.choice([2, 3, -1, 0.5, 1.5]) if op == "pow" else None
        if op == "pow" and (a.data < 0.2 and not float(k).is_integer() or abs(a.data) < 0.2 or abs(a.data) > 5):
            k = 2
        new = {
            "add": lambda: (a + b, ta + tb), "sub": lambda: (a - b, ta - tb),
            "mul": lambda: (a * b, ta * tb), "div": lambda: (a / b, ta / tb),
            "radd": lambda: (c + a, c + ta), "rsub": lambda: (c - a, c - ta),
            "rmul": lambda: (c * a, c * ta), "rdiv": lambda: (c / a, c / ta),
            "pow": lambda: (a**k, ta**k), "exp": lambda: (a.exp(), ta.exp()), "log": lambda: (a.log(), ta.log()),
            "tanh": lambda: (a.tanh(), ta.tanh()), "sigmoid": lambda: (a.sigmoid(), ta.sigmoid()),
            "relu": lambda: (a.relu(), ta.relu()), "neg": lambda: (-a, -ta),
        }[op]()
        pool.append(new)
    out, tout = pool[-1][0] + pool[-2][0] * pool[-3][0], pool[-1][1] + pool[-2][1] * pool[-3][1]
    return ours, theirs, out, tout


@pytest.mark.parametrize("seed", range(0, 200, 40))
def test_engine_gradients_equal_torch_on_random_expressions(seed):
    for s in range(seed, seed + 40):
        ours, theirs, out, tout = random_expression(s)
        out.backward()
        grads = torch.autograd.grad(tout, theirs, allow_unused=True)
        assert out.data == pytest.approx(tout.item(), rel=1e-12, abs=1e-12)
        for v, g in zip(ours, grads):
            assert v.grad == pytest.approx(0.0 if g is None else g.item(), rel=1e-10, abs=1e-10), f"seed {s}"


def test_engine_reverse_ops_reuse_and_graph():
    x = Value(3.0, "x")
    y = 2 + x * x - 1 / x  # x used three times: its gradient sums along every path
    y.backward()
    assert y.data == pytest.approx(11 - 1 / 3)
    assert x.grad == pytest.approx(2 * 3 + 1 / 9)
    assert (2 - x).data == -1.0 and (2 * x).data == 6.0 and (6 / x).data == 2.0
    nodes, edges = graph(y)
    assert nodes[-1] is y and x in nodes
    position = {id(n): i for i, n in enumerate(nodes)}
    assert all(position[id(p)] < position[id(c)] for p, c in edges)  # topological order
    assert sum(1 for p, c in edges if p is x) == 3
    y.backward()  # a second backward recomputes, it does not accumulate
    assert x.grad == pytest.approx(6 + 1 / 9)


def test_engine_pow_edge_cases_match_torch():
    for base, k in [(0.0, 0.5), (0.0, 2), (0.0, 0), (-2.0, 3), (4.0, -0.5)]:
        v, t = Value(base), torch.tensor(base, dtype=f64, requires_grad=True)
        out = v**k
        out.backward()
        assert out.data == pytest.approx((t**k).item())
        assert v.grad == pytest.approx(torch.autograd.grad(t**k, t)[0].item())


def test_engine_sigmoid_is_stable_and_long_chains_work():
    assert Value(-1000.0).sigmoid().data == 0.0 and Value(1000.0).sigmoid().data == 1.0
    v = x = Value(0.5)
    for _ in range(5000):
        v = v * 1.0
    v.backward()
    assert x.grad == 1.0


@pytest.mark.parametrize("call, error", [
    (lambda: Value("1"), TypeError),
    (lambda: Value(True), TypeError),
    (lambda: Value(1.0) + "a", TypeError),
    (lambda: Value(2.0) ** Value(2.0), TypeError),
    (lambda: Value(-1.0).log(), ValueError),
    (lambda: Value(-2.0) ** 0.5, ValueError),
    (lambda: Value(0.0) ** -1, ValueError),
    (lambda: Value(1.0) / 0, ZeroDivisionError),
    (lambda: graph(1.0), TypeError),
])
def test_engine_rejects_bad_input(call, error):
    with pytest.raises(error):
        call()


# ---------------------------------------------------------------- backpropagation by hand

def test_sigmoid_neuron_worked_example():
    n = sigmoid_neuron([1, 2, 3, 4], [0.1, 0.2, 0.3, 0.4], 0.5)
    assert n.z == pytest.approx(3.5, abs=1e-12)
    assert n.a == pytest.approx(1 / (1 + math.exp(-3.5)), abs=1e-15)
    assert round(n.a, 4) == 0.9707
    assert round(1 / (1 + math.exp(-2.0)), 3) == 0.881  # the value sigma(2.0) really has


def test_two_layer_backward_equals_autograd_and_a_step_lowers_the_loss():
    net = TwoLayerSigmoidNet(4, 3, 2, seed=0)
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(5, 4, generator=g, dtype=f64), torch.rand(5, 2, generator=g, dtype=f64)
    out, cache = net.forward(x)
    grads = net.backward(cache, y)
    leaves = {k: v.clone().requires_grad_() for k, v in {**net.parameters(), "x": x}.items()}
    A1 = torch.sigmoid(leaves["x"] @ leaves["W1"] + leaves["b1"])
    loss = F.mse_loss(torch.sigmoid(A1 @ leaves["W2"] + leaves["b2"]), y)
    close(net.loss(out, y), loss)
    auto = dict(zip(leaves, torch.autograd.grad(loss, list(leaves.values()))))
    for name in leaves:
        close(grads[name], auto[name])
    net.update(grads, lr=0.5)
    assert net.loss(net.forward(x)[0], y) < loss


def test_worked_example_network_from_given_weights():
    # the neuron of the worked example as the hidden unit, then one output unit
    net = TwoLayerSigmoidNet.from_weights(torch.tensor([[0.1], [0.2], [0.3], [0.4]], dtype=f64),
                                          torch.tensor([0.5], dtype=f64), torch.tensor([[0.7]], dtype=f64),
                                          torch.tensor([-0.2], dtype=f64))
    x, y = torch.tensor([[1.0, 2.0, 3.0, 4.0]], dtype=f64), torch.tensor([[1.0]], dtype=f64)
    out, cache = net.forward(x)
    hidden = sigmoid_neuron([1, 2, 3, 4], [0.1, 0.2, 0.3, 0.4], 0.5).a
    assert cache["A1"].item() == pytest.approx(hidden, abs=1e-15)
    assert out.item() == pytest.approx(1 / (1 + math.exp(-(0.7 * hidden - 0.2))), abs=1e-15)
    grads = net.backward(cache, y)
    assert grads["W1"].shape == (4, 1) and grads["W2"].shape == (1, 1)
    assert (grads["W1"] < 0).all()  # the output is below its target: every weight should grow


def test_finite_differences_agree_with_autograd():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(3, 2, generator=g, dtype=f64)
    f = lambda t: (torch.sin(t) * t**2).sum() + t.prod()
    xt = x.clone().requires_grad_()
    auto = torch.autograd.grad(f(xt), xt)[0]
    close(finite_difference_grad(f, x), auto, tol=1e-8)
    close(finite_difference_grad(lambda t: float(t.sum()), x.t()), torch.ones(2, 3, dtype=f64), tol=1e-8)
    errors = [(finite_difference_grad(f, x, eps) - auto).abs().max().item() for eps in (1e-2, 1e-3)]
    assert errors[1] < errors[0] / 50  # central differences: error ~ eps^2


@pytest.mark.parametrize("call, error", [
    (lambda: sigmoid_neuron([1.0, 2.0], [0.1], 0.5), ValueError),
    (lambda: sigmoid_neuron([1.0], [0.1], "b"), TypeError),
    (lambda: sigmoid_neuron([1.0], [0.1], torch.zeros(2)), ValueError),
    (lambda: TwoLayerSigmoidNet.from_weights(torch.zeros(4, 3), torch.zeros(3), torch.zeros(2, 1), torch.zeros(1)),
     ValueError),
    (lambda: TwoLayerSigmoidNet.from_weights(torch.zeros(4, 3), torch.zeros(2), torch.zeros(3, 1), torch.zeros(1)),
     ValueError),
    (lambda: TwoLayerSigmoidNet.from_weights(torch.zeros(4, 3), torch.zeros(3, dtype=f64), torch.zeros(3, 1),
                                             torch.zeros(1)), TypeError),
    (lambda: TwoLayerSigmoidNet(0, 3, 2), ValueError),
    (lambda: TwoLayerSigmoidNet(4, 3, 2).forward(torch.zeros(5, 3, dtype=f64)), ValueError),
    (lambda: TwoLayerSigmoidNet(4, 3, 2).forward(torch.zeros(4, dtype=f64)), ValueError),
    (lambda: TwoLayerSigmoidNet(4, 3, 2).forward(torch.zeros(5, 4)), TypeError),
    (lambda: TwoLayerSigmoidNet(4, 3, 2).backward(TwoLayerSigmoidNet(4, 3, 2).forward(torch.zeros(5, 4, dtype=f64))[1],
                                                  torch.zeros(5, 3, dtype=f64)), ValueError),
    (lambda: TwoLayerSigmoidNet(4, 3, 2).update({}, 0.1), ValueError),
    (lambda: finite_difference_grad(3, torch.zeros(2)), TypeError),
    (lambda: finite_difference_grad(lambda t: t.sum(), torch.zeros(2), eps=0), ValueError),
    (lambda: finite_difference_grad(lambda t: t, torch.zeros(2, dtype=f64)), ValueError),
    (lambda: finite_difference_grad(lambda t: "x", torch.zeros(2, dtype=f64)), TypeError),
    (lambda: finite_difference_grad(lambda t: t.sum(), torch.zeros(2, dtype=torch.long)), TypeError),
])
def test_backprop_rejects_bad_input(call, error):
    with pytest.raises(error):
        call()
