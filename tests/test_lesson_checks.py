"""Every grader of lessons 2 onwards passes a correct answer and names each common mistake."""

import pytest
import torch
import torch.nn.functional as F

from llmxai import checks


def grader_cases(correct, mistakes):
    """Parametrize over (function, expected hint or None for a pass)."""
    return [pytest.param(correct, None, id="correct")] + [pytest.param(f, hint, id=name) for name, (f, hint) in mistakes.items()]


def assert_verdict(check, fn, hint, seeds=(0, 3)):
    """``check`` passes ``fn`` (hint None) or fails with ``hint``, for each seed, without warning."""
    import warnings

    for seed in seeds:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            if hint is None:
                assert check(fn, seed=seed) is True
            else:
                with pytest.raises(AssertionError, match=hint):
                    check(fn, seed=seed)


# ---- lesson 2: gradient descent ----

def ce(z, y, *, shift=True, reduce="mean", axis=-1, pick="row", sign=1.0):
    m = z.amax(axis, keepdim=True) if shift else 0.0
    logp = z - m - (z - m).exp().sum(axis, keepdim=True).log()
    rows = torch.arange(z.shape[0])
    nll = -(logp[rows, y] if pick == "row" else logp[:, y])
    return sign * {"mean": nll.mean(), "sum": nll.sum(), "none": nll}[reduce]


@pytest.mark.parametrize("fn, hint", grader_cases(ce, {
    "overflow": (lambda z, y: ce(z, y, shift=False), "NaN or inf"),
    "global max": (lambda z, y: ce(z - z.max(), y, shift=False), "(?i)each row"),
    "sum": (lambda z, y: ce(z, y, reduce="sum"), "summed over the batch"),
    "per example": (lambda z, y: ce(z, y, reduce="none"), "one loss per example"),
    "sign": (lambda z, y: ce(z, y, sign=-1.0), "sign"),
    "columns": (lambda z, y: ce(z, y, pick="all"), r"log_probs\[:, targets\]"),
    "axis": (lambda z, y: ce(z, y, axis=0), "wrong axis"),
    "library": (F.cross_entropy, "library|ready-made"),
    "torch inside": (lambda z, y: F.cross_entropy(z, y), "ready-made"),
}))
def test_cross_entropy_grader(fn, hint):
    assert_verdict(checks.check_cross_entropy, fn, hint)


def ce_grad(z, y, *, scale=True, sign=1.0, onehot=True, axis=-1):
    e = (z - z.amax(axis, keepdim=True)).exp()
    p = e / e.sum(axis, keepdim=True)
    g = p - (F.one_hot(y, z.shape[1]).to(z.dtype) if onehot else 0.0)
    return sign * g / (z.shape[0] if scale else 1.0)


@pytest.mark.parametrize("fn, hint", grader_cases(ce_grad, {
    "no mean": (lambda z, y: ce_grad(z, y, scale=False), "divide by B"),
    "sign": (lambda z, y: ce_grad(z, y, sign=-1.0), "sign"),
    "no one-hot": (lambda z, y: ce_grad(z, y, onehot=False), "one-hot"),
    "axis": (lambda z, y: ce_grad(z, y, axis=0), "wrong axis"),
    "autograd": (lambda z, y: torch.autograd.grad(F.cross_entropy(z.requires_grad_(), y), z)[0], "ready-made"),
}))
def test_cross_entropy_grad_grader(fn, hint):
    assert_verdict(checks.check_cross_entropy_grad, fn, hint)


def momentum(grad, theta0, lr, mu, steps, *, variant="right"):
    theta = theta0 if variant == "in place" else theta0.clone()
    v = torch.zeros_like(theta)
    path = [theta.clone()] if variant != "no start" else []
    for _ in range(steps):
        if variant == "lagged":
            theta = theta - lr * v
            v = mu * v + grad(theta)
        else:
            v = mu * v + (1 - mu if variant == "ema" else 1) * grad(theta)
            if variant in ("in place", "aliased"):
                theta -= lr * v
            else:
                theta = theta + (lr if variant == "ascent" else -lr) * v
        path.append(theta if variant == "aliased" else theta.clone())
    if variant == "aliased":
        path[0] = theta
    return torch.stack(path)


@pytest.mark.parametrize("fn, hint", grader_cases(momentum, {
    v: ((lambda v: lambda *a: momentum(*a, variant=v))(v), h) for v, h in [
        ("in place", "in place"), ("aliased", "same tensor"), ("no start", "starting point"),
        ("ascent", "up the slope"), ("ema", r"\(1 - mu\)"), ("lagged", "velocity first")]
} | {"no momentum": (lambda g, t, lr, mu, s: momentum(g, t, lr, 0.0, s), "no momentum"),
     "list": (lambda *a: list(momentum(*a)), "one tensor")}))
def test_momentum_path_grader(fn, hint):
    assert_verdict(checks.check_momentum_path, fn, hint)


@pytest.mark.parametrize("fn, hint", grader_cases(lambda H: 2 / torch.linalg.eigvalsh(H).max(), {
    "1/lambda": (lambda H: 1 / torch.linalg.eigvalsh(H).max().item(), "oscillate"),
    "lambda_min": (lambda H: 2 / torch.linalg.eigvalsh(H).min().item(), "LARGEST"),
    "diagonal": (lambda H: 2 / H.diagonal().max().item(), "diagonal"),
    "trace": (lambda H: 2 / H.trace().item(), "trace"),
    "tensor": (lambda H: torch.full((2,), 0.25), "one number"),
}))
def test_lr_limit_grader(fn, hint):
    assert_verdict(checks.check_lr_limit, fn, hint)


# ---- lesson 3: backpropagation ----

@pytest.mark.parametrize("fn, hint", grader_cases(lambda a, g: g * a * (1 - a), {
    "sigmoid again": (lambda a, g: g * torch.sigmoid(a) * (1 - torch.sigmoid(a)), "sigmoid again"),
    "no chain": (lambda a, g: a * (1 - a), "incoming gradient"),
    "tanh's": (lambda a, g: g * (1 - a ** 2), "tanh"),
    "one factor": (lambda a, g: g * a, "both factors"),
    "autograd": (lambda a, g: torch.autograd.grad(torch.sigmoid(a.requires_grad_()), a, g)[0], "ready-made"),
}))
def test_sigmoid_backward_grader(fn, hint):
    assert_verdict(checks.check_sigmoid_backward, fn, hint)


def linear_bw(x, W, gZ, *, transpose=False, keep_batch=False, mean=False):
    B = x.shape[0]
    gW = (gZ.T @ x) if transpose else x.T @ gZ / (B if mean else 1)
    gb = gZ if keep_batch else (gZ.mean(0) if mean else gZ.sum(0))
    return gZ @ W.T, gW, gb


@pytest.mark.parametrize("fn, hint", grader_cases(linear_bw, {
    "transposed W": (lambda *a: linear_bw(*a, transpose=True), "transpose"),
    "b per example": (lambda *a: linear_bw(*a, keep_batch=True), "SUM of grad_Z"),
    "mean": (lambda *a: linear_bw(*a, mean=True), "do not average"),
    "pair": (lambda *a: linear_bw(*a)[:2], "three tensors"),
    "dx": (lambda x, W, gZ: (gZ @ W.T @ torch.eye(W.shape[0], dtype=x.dtype) * 2,) + linear_bw(x, W, gZ)[1:], "grad_x"),
}))
def test_linear_backward_grader(fn, hint):
    assert_verdict(checks.check_linear_backward, fn, hint)


def mlp_bw(x, y, p, **switches):
    from llmxai.lesson_checks.backpropagation import _mlp_grads

    return _mlp_grads(x, y, p, **switches)


@pytest.mark.parametrize("fn, hint", grader_cases(mlp_bw, {
    "no mean": (lambda x, y, p: mlp_bw(x, y, p, mean=False), "divide by B"),
    "sigmoid slope": (lambda x, y, p: mlp_bw(x, y, p, slope=lambda A, Z: A * (1 - A)), "sigmoid"),
    "slope of Z": (lambda x, y, p: mlp_bw(x, y, p, slope=lambda A, Z: 1 - Z ** 2), "not the pre-activation"),
    "no tanh'": (lambda x, y, p: mlp_bw(x, y, p, skip_act=True), "skipped the activation"),
    "Z1 for W2": (lambda x, y, p: mlp_bw(x, y, p, pre_activation=True), "not Z1"),
    "keys": (lambda x, y, p: list(mlp_bw(x, y, p).values()), "dict"),
}))
def test_mlp_backward_grader(fn, hint):
    assert_verdict(checks.check_mlp_backward, fn, hint)


def central(f, x, eps, *, kind="central", restore=True):
    x_work = x if not restore or kind == "in place" else x.clone()
    grad = torch.zeros_like(x)
    for i in range(x.numel()):
        old = x_work.view(-1)[i].item()
        x_work.view(-1)[i] = old + eps
        up = f(x_work).item()
        x_work.view(-1)[i] = old - eps if kind != "forward" else old
        down = f(x_work).item()
        if kind != "in place":
            x_work.view(-1)[i] = old
        grad.view(-1)[i] = (up - down) / (eps if kind in ("forward", "half") else 2 * eps)
    return grad


@pytest.mark.parametrize("fn, hint", grader_cases(central, {
    "forward": (lambda f, x, eps: central(f, x, eps, kind="forward"), "one-sided"),
    "eps": (lambda f, x, eps: central(f, x, eps, kind="half"), "2 \\* eps"),
    "not restored": (lambda f, x, eps: central(f, x, eps, kind="in place"), "put each entry back"),
    "all at once": (lambda f, x, eps: torch.full_like(x, ((f(x + eps) - f(x - eps)) / (2 * eps)).item()), "ONE entry"),
    "library": (lambda f, x, eps: __import__("llmxai.optim", fromlist=["x"]).finite_difference_grad(f, x, eps),
                "ready-made"),
}))
def test_central_difference_grader(fn, hint):
    assert_verdict(checks.check_central_difference, fn, hint)


# ---- lesson 4: embeddings ----

def emb_grad(ids, G, V, *, how="sum"):
    d = G.shape[-1]
    out = torch.zeros(V, d, dtype=G.dtype)
    if how == "assign":
        out[ids.reshape(-1)] = G.reshape(-1, d)
        return out
    out.index_add_(0, ids.reshape(-1), G.reshape(-1, d))
    if how == "mean":
        out = out / torch.bincount(ids.reshape(-1), minlength=V).clamp_min(1)[:, None]
    return out


@pytest.mark.parametrize("fn, hint", grader_cases(emb_grad, {
    "assignment": (lambda i, G, V: emb_grad(i, G, V, how="assign"), "SUM of its gradients"),
    "average": (lambda i, G, V: emb_grad(i, G, V, how="mean"), "averaged"),
    "per token": (lambda i, G, V: G.reshape(-1, G.shape[-1]), "one row per vocabulary entry"),
    "transposed": (lambda i, G, V: emb_grad(i, G, V).T, "transposed"),
    "autograd": (lambda i, G, V: torch.autograd.grad((torch.zeros(V, G.shape[-1], dtype=G.dtype, requires_grad=True)),
                                                     [], allow_unused=True), "ready-made"),
}))
def test_embedding_grad_grader(fn, hint):
    assert_verdict(checks.check_embedding_grad, fn, hint)


def cos_matrix(A, B, *, norm_a=True, norm_b=True, dim=-1, distance=False):
    if norm_a:
        A = A / A.norm(dim=dim, keepdim=True)
    if norm_b:
        B = B / B.norm(dim=dim, keepdim=True)
    S = A @ B.T
    return 1 - S if distance else S


@pytest.mark.parametrize("fn, hint", grader_cases(cos_matrix, {
    "dot": (lambda A, B: cos_matrix(A, B, norm_a=False, norm_b=False), "dot product"),
    "columns": (lambda A, B: cos_matrix(A, B, dim=0), "columns"),
    "one side": (lambda A, B: cos_matrix(A, B, norm_b=False), "both sides"),
    "distance": (lambda A, B: cos_matrix(A, B, distance=True), "distance"),
    "transposed": (lambda A, B: cos_matrix(A, B).T, "transposed"),
    "library": (lambda A, B: F.cosine_similarity(A[:, None], B[None], dim=-1), "ready-made"),
}))
def test_cosine_matrix_grader(fn, hint):
    assert_verdict(checks.check_cosine_matrix, fn, hint)


def nearest(W, i, k, *, score="cos", keep_self=False, order="desc"):
    s = cos_matrix(W, W[i:i + 1])[:, 0] if score == "cos" else W @ W[i]
    if not keep_self:
        s = s.clone()
        s[i] = float("inf") if order == "asc" else -float("inf")
    if order == "asc":
        return s.argsort()[:k]
    top = s.argsort(descending=True)[:k]
    return top.flip(0) if order == "reversed" else top


@pytest.mark.parametrize("fn, hint", grader_cases(nearest, {
    "itself": (lambda W, i, k: nearest(W, i, k, keep_self=True), "itself"),
    "dot": (lambda W, i, k: nearest(W, i, k, score="dot"), "dot product"),
    "least": (lambda W, i, k: nearest(W, i, k, order="asc"), "LEAST"),
    "order": (lambda W, i, k: nearest(W, i, k, order="reversed"), "wrong order"),
    "floats": (lambda W, i, k: nearest(W, i, k).double(), "integer ids"),
}))
def test_nearest_grader(fn, hint):
    assert_verdict(checks.check_nearest, fn, hint, seeds=(0, 1, 2, 3, 4))


# ---- lesson 5: recurrent networks ----

def rnn(x, W_h, W_x, b, **switches):
    from llmxai.lesson_checks.recurrent import _rnn

    return _rnn(x, W_h, W_x, b, **switches)


@pytest.mark.parametrize("fn, hint", grader_cases(rnn, {
    "no tanh": (lambda *a: rnn(*a, act=lambda z: z), "no tanh"),
    "not carried": (lambda *a: rnn(*a, carry=False), "not carried"),
    "transposed": (lambda *a: rnn(*a, transpose_h=True), "transposed"),
    "last only": (lambda *a: rnn(*a)[:, -1], "only the last state"),
    "with h0": (lambda *a: torch.cat([torch.zeros_like(rnn(*a)[:, :1]), rnn(*a)], 1), "leave out h_0"),
    "shifted": (lambda *a: torch.cat([torch.zeros_like(rnn(*a)[:, :1]), rnn(*a)[:, :-1]], 1), "shifted"),
    "library": (lambda x, W_h, W_x, b: torch.nn.RNN(x.shape[-1], W_h.shape[0], batch_first=True).double()(x)[0],
                "ready-made"),
}))
def test_rnn_forward_grader(fn, hint):
    assert_verdict(checks.check_rnn_forward, fn, hint)


def lstm(x, h, c, W, b, **switches):
    from llmxai.lesson_checks.recurrent import _lstm

    return _lstm(x, h, c, W, b, **switches)


@pytest.mark.parametrize("fn, hint", grader_cases(lstm, {
    "i and f": (lambda *a: lstm(*a, order="figo"), "order i, f, g, o"),
    "g and o": (lambda *a: lstm(*a, order="ifog"), "candidate g"),
    "sigmoid g": (lambda *a: lstm(*a, g_act=torch.sigmoid), "uses tanh"),
    "h = o c": (lambda *a: lstm(*a, h_of_c=lambda t: t), "tanh\\(c\\)"),
    "no input gate": (lambda *a: lstm(*a, use_i=False), "input gate"),
    "[h, x]": (lambda *a: lstm(*a, concat="hx"), "in that order"),
    "swapped": (lambda *a: lstm(*a)[::-1], "swapped"),
}))
def test_lstm_cell_grader(fn, hint):
    assert_verdict(checks.check_lstm_cell, fn, hint)


@pytest.mark.parametrize("fn, hint", grader_cases(lambda s, L: s[torch.arange(len(L)), L - 1], {
    "padding": (lambda s, L: s[:, -1], "padding"),
    "off by one": (lambda s, L: s[torch.arange(len(L)), L], "off by one"),
    "all lengths": (lambda s, L: s[:, L - 1], "one position per row"),
    "first": (lambda s, L: s[:, 0], "first state"),
    "raises": (lambda s, L: s[L - 1, torch.arange(len(L)), 5], "raised"),
}))
def test_last_states_grader(fn, hint):
    assert_verdict(checks.check_last_states, fn, hint)


# Every grader of every lesson (llmxai.checks finds those of lessons 2 onwards in llmxai.lesson_checks).
ALL_GRADERS = [getattr(checks, name) for name in dir(checks) if name.startswith("check_") and name != "check_own_work"]


@pytest.mark.parametrize("check", ALL_GRADERS, ids=lambda c: c.__name__)
def test_a_grader_answers_every_failure_with_a_hint_and_writes_no_stderr(check, capfd):
    import warnings

    def todo(*args):
        raise NotImplementedError()

    def broken(*args):
        warnings.warn("the learner's warning")
        print("the learner's stderr", file=__import__("sys").stderr)
        raise IndexError("index 9 is out of bounds")

    def nonsense(*args):
        return "42"

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning from the grader would fail here
        with pytest.raises(checks.NotYetImplemented):
            check(todo)
        with pytest.raises(AssertionError, match="your function raised IndexError"):
            check(broken)
        with pytest.raises(AssertionError) as info:
            check(nonsense)
    assert type(info.value) is AssertionError and str(info.value)
    assert capfd.readouterr().err == ""
