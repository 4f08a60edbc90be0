"""Lesson 11 (gradients and Integrated Gradients): gradient x input by autograd, Integrated
Gradients with the trapezoid rule, and the ROC-AUC of token scores against a rationale."""

import torch

from llmxai.device import generator
from llmxai.lesson_checks.common import _what, check_own_work, close, passed, run, tensor_of_shape

_READY = ("gradient_x_input", "integrated_gradients", "saliency", "smoothgrad", "quadrature", "InputXGradient",
          "IntegratedGradients", "Saliency", "attribute", "completeness_gap")


def _library():
    from llmxai import explain

    return (explain.gradient_x_input, explain.integrated_gradients, explain.saliency, explain.smoothgrad,
            explain.completeness_gap, explain.rationale_auc)


def _model(seed, n=5, hidden=7):
    """A smooth, non-linear F: (B, n) -> (B,), float64, fixed by ``seed``."""
    g = generator(seed)
    W = torch.randn(hidden, n, generator=g, dtype=torch.float64) * 0.8
    b = torch.randn(hidden, generator=g, dtype=torch.float64) * 0.3
    v = torch.randn(hidden, generator=g, dtype=torch.float64)

    def F(x):
        return torch.tanh(x @ W.T + b) @ v + 0.2 * (x**2).sum(-1) - 0.3 * x[..., 0]

    return F


def _grad(F, x, reduce="sum"):
    x = x.detach().clone().requires_grad_(True)
    out = F(x)
    (g,) = torch.autograd.grad(out.sum() if reduce == "sum" else out.mean(), x)
    return g


def check_grad_times_input(gradient_x_input, seed=0):
    """Check ``gradient_x_input(F, x (B, n)) -> (B, n)``: ``x * dF/dx`` for a model ``F: (B, n) -> (B,)``."""
    check_own_work(gradient_x_input, forbidden=_READY, library=_library(), exercise="gradient_x_input")
    F = _model(seed)
    x = torch.randn(3, 5, generator=generator(seed + 100), dtype=torch.float64)
    before = x.clone()
    got = run(gradient_x_input, F, x)
    if not torch.equal(x, before):
        raise AssertionError("your function changed x in place: work on a copy (x.detach().clone())")
    g = _grad(F, x)
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (3,):
        raise AssertionError("one number per row: return one attribution per input feature, shape (B, n), "
                             "not their sum")
    tensor_of_shape(got, x.shape, "gradient x input (B, n)")
    if close(got, g):
        raise AssertionError("that is the plain gradient dF/dx: multiply it by the input x")
    if close(got, g.abs()) or close(got, g.abs() * x):
        raise AssertionError("that is saliency |dF/dx| (or uses it): gradient x input keeps the gradient's sign, "
                             "x * dF/dx")
    if close(got, _grad(F, x, "mean") * x):
        raise AssertionError("every value is divided by B: you differentiated F(x).mean(); differentiate "
                             "F(x).sum(), so each row gets the gradient of its own output")
    if close(got, torch.relu(g * x)):
        raise AssertionError("the negative values are clipped: gradient x input is signed, keep them")
    if not close(got, g * x):
        raise AssertionError("values differ from x * dF/dx (one backward pass through F(x).sum())")
    return passed("gradient_x_input")


def _ig(F, x, x0, steps, *, nodes="trapezoid", weights="trapezoid", times="difference", start="baseline"):
    n = steps
    k = torch.arange(n, dtype=torch.float64)
    alphas = {"trapezoid": k / (n - 1), "right": (k + 1) / n, "left": k / n}[nodes]
    w = torch.full((n,), 1.0 / (n - 1), dtype=torch.float64)
    if weights == "trapezoid":
        w[0] = w[-1] = 0.5 / (n - 1)
    elif weights == "captum":
        w = torch.full((n,), 1.0 / n, dtype=torch.float64)
        w[0] = w[-1] = 0.5 / n
    elif weights == "riemann":
        w = torch.full((n,), 1.0 / n, dtype=torch.float64)
    origin = x0 if start == "baseline" else torch.zeros_like(x0)
    avg = sum(wk * _grad(F, origin + a * (x - origin)) for a, wk in zip(alphas, w))
    return {"difference": (x - x0) * avg, "input": x * avg, "none": avg}[times]


def check_ig_trapezoid(integrated_gradients, seed=0):
    """Check ``integrated_gradients(F, x (B, n), baseline (B, n), steps) -> (B, n)`` with the trapezoid
    rule: nodes ``alpha_k = k / (steps - 1)``, ``k = 0 .. steps - 1``, weights ``1 / (steps - 1)`` halved at
    both ends, times ``(x - baseline)``."""
    check_own_work(integrated_gradients, forbidden=_READY, library=_library(), exercise="integrated_gradients")
    F = _model(seed + 1)
    g = generator(seed + 200)
    x = torch.randn(3, 5, generator=g, dtype=torch.float64)
    x0 = torch.randn(3, 5, generator=g, dtype=torch.float64) * 0.5
    for steps in (5, 9):
        got = run(integrated_gradients, F, x.clone(), x0.clone(), steps)
        tensor_of_shape(got, x.shape, "the attributions (B, n)")
        want = _ig(F, x, x0, steps)
        mistakes = [
            (dict(nodes="right", weights="riemann"), "the right Riemann sum (alpha = k/n, weights 1/n): the "
             "trapezoid rule's nodes include both ends, alpha_k = k / (steps - 1)"),
            (dict(nodes="left", weights="riemann"), "the left Riemann sum: the trapezoid rule's nodes are "
             "alpha_k = k / (steps - 1), from 0 to 1 inclusive"),
            (dict(weights="captum"), "weights 1/steps: with steps nodes there are steps - 1 cells, so the weights "
             "are 1 / (steps - 1) (halved at the ends) and sum to 1; yours sum to (steps - 1) / steps"),
            (dict(weights="flat"), "halve the two end weights: the trapezoid rule weighs alpha = 0 and alpha = 1 "
             "by 1 / (2 (steps - 1))"),
            (dict(times="none"), "that is the averaged gradient: multiply it by (x - baseline)"),
            (dict(times="input"), "multiply by (x - baseline), not by x: the path runs from the baseline"),
            (dict(start="zero"), "the path starts at the baseline: evaluate the gradient at "
             "baseline + alpha (x - baseline), not at alpha x"),
        ]
        if not close(got, want, 1e-8):
            for switches, hint in mistakes:
                if close(got, _ig(F, x, x0, steps, **switches), 1e-8):
                    raise AssertionError(hint)
            raise AssertionError(f"with steps = {steps} your attributions differ from (x - x') * sum_k w_k "
                                 "dF/dx(x' + alpha_k (x - x'))")
    return passed("integrated_gradients")


def _auc(scores, rationale, tie=0.5, reverse=False, denominator="pairs"):
    s_pos, s_neg = scores[rationale], scores[~rationale]
    if reverse:
        s_pos, s_neg = s_neg, s_pos
    wins = (s_pos[:, None] > s_neg[None]).double().sum() + tie * (s_pos[:, None] == s_neg[None]).double().sum()
    n = {"pairs": len(s_pos) * len(s_neg), "all": len(scores) ** 2, "tokens": len(scores)}[denominator]
    return (wins / n).item()


def check_token_auc(token_auc, seed=0):
    """Check ``token_auc(scores (L,), rationale (L,) bool) -> float``: the share of (rationale token,
    other token) pairs in which the rationale token scores higher, ties counting one half."""
    check_own_work(token_auc, forbidden=("rationale_auc", "roc_auc_score", "auc", "mannwhitneyu"),
                   library=_library(), exercise="token_auc")
    g = generator(seed + 300)
    cases = []
    for L in (7, 9, 12):
        scores = torch.randint(-3, 4, (L,), generator=g).double()  # small integers: ties happen
        rationale = torch.zeros(L, dtype=torch.bool)
        rationale[torch.randperm(L, generator=g)[: 2 + L % 3]] = True
        cases.append((scores, rationale))
    cases.append((torch.tensor([0.5, 2.0, -1.0, 3.0, 0.0], dtype=torch.float64),
                  torch.tensor([False, True, False, True, False])))  # no ties: AUC 1
    for scores, rationale in cases:
        got = run(token_auc, scores.clone(), rationale.clone())
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            raise AssertionError(f"return one number (a float) per sentence, got {_what(got)}")
        want = _auc(scores, rationale)
        if abs(got - want) < 1e-9:
            continue
        mistakes = [
            (dict(reverse=True), "reversed: count the pairs in which the RATIONALE token scores higher (1 - AUC "
             "is what you computed)"),
            (dict(tie=0.0), "ties count one half: a pair with equal scores is a coin flip, not a loss"),
            (dict(tie=1.0), "ties count one half, not one: a pair with equal scores is a coin flip"),
            (dict(denominator="all"), "divide by the number of (rationale, other) pairs, n_rationale * n_other, "
             "not by L * L"),
            (dict(denominator="tokens"), "divide by the number of (rationale, other) pairs, n_rationale * n_other"),
        ]
        for switches, hint in mistakes:
            if abs(got - _auc(scores, rationale, **switches)) < 1e-9:
                raise AssertionError(hint)
        raise AssertionError(f"got {got:.4f}, expected {want:.4f} for scores {scores.tolist()} and rationale "
                             f"{rationale.int().tolist()}: compare every rationale token with every other token")
    return passed("token_auc")
