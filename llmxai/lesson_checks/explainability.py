"""Lesson 9 (what explaining a model means): occlusion of one feature at a time, a weighted linear
surrogate fitted around one input, and the deletion curve that tests an attribution's faithfulness."""

import torch

from llmxai.device import generator
from llmxai.explain import deletion_curve, exact_shapley, kernel_shap, leave_one_out, lime, occlusion
from llmxai.lesson_checks.common import _what, check_own_work, close, passed, run, tensor_of_shape

_READY = ("occlusion", "leave_one_out", "lime", "kernel_shap", "exact_shapley", "deletion_curve", "insertion_curve",
          "aopc", "comprehensiveness", "LinearRegression", "Ridge", "Lasso")
_LIBRARY = (occlusion, leave_one_out, lime, kernel_shap, exact_shapley, deletion_curve)


def _model(seed, d):
    """A small fixed nonlinear scorer ``f(X (N, d)) -> (N,)`` (also ``(d,) -> ()``)."""
    g = generator(seed)
    W1 = torch.randn(d, 8, generator=g, dtype=torch.float64)
    b1 = torch.randn(8, generator=g, dtype=torch.float64) * 0.3
    w2 = torch.randn(8, generator=g, dtype=torch.float64)

    def f(X):
        return torch.tanh(X @ W1 + b1) @ w2

    return f, g


def _occluded(x, baseline, keep_only=False):
    d = x.shape[0]
    eye = torch.eye(d, dtype=torch.bool)
    if keep_only:
        return torch.where(eye, x, baseline)  # row i: only feature i kept
    return torch.where(eye, baseline, x)  # row i: feature i replaced


def check_occlude_each(occlude_each, seed=0):
    """Check ``occlude_each(f, x (d,), baseline (d,)) -> (d,)``: ``f(x) - f(x with feature i set to baseline[i])``
    for each ``i``; ``f`` maps a batch ``(N, d)`` to scores ``(N,)``."""
    check_own_work(occlude_each, forbidden=_READY, library=_LIBRARY, exercise="occlude_each")
    d = 6
    f, g = _model(seed, d)
    x = torch.randn(d, generator=g, dtype=torch.float64)
    baseline = torch.randn(d, generator=g, dtype=torch.float64) * 0.5
    got = run(occlude_each, f, x.clone(), baseline.clone())
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        raise AssertionError("one number: return one score per feature, a tensor of shape (d,)")
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (d, d):
        raise AssertionError("(d, d): those are the occluded inputs; return f(x) minus f of each, shape (d,)")
    tensor_of_shape(got, (d,), "one score per feature (d,)")
    fx = f(x)
    want = fx - f(_occluded(x, baseline))
    if close(got, -want):
        raise AssertionError("sign: the score is f(x) - f(occluded), positive when removing the feature lowers f")
    if close(got, want.abs()):
        raise AssertionError("you took absolute values: keep the sign, it says whether the feature pushed f up or down")
    if close(got, f(_occluded(x, baseline))):
        raise AssertionError("those are the scores of the occluded inputs: return the drop f(x) - f(occluded)")
    zero = torch.zeros_like(baseline)
    if close(got, fx - f(_occluded(x, zero))):
        raise AssertionError("you replaced features by 0: use the baseline you are given, feature i set to baseline[i]")
    if close(got, f(_occluded(x, baseline, keep_only=True)) - f(baseline)):
        raise AssertionError("you kept ONLY feature i: occlusion replaces feature i and keeps all the others")
    if close(got, fx - f(_occluded(x, baseline, keep_only=True))):
        raise AssertionError("you replaced every feature but i: occlusion replaces feature i alone")
    if not close(got, want):
        raise AssertionError("expected f(x) - f(x with x_i replaced by baseline[i]) for each feature i")
    return passed("occlude_each")


def _wls(Z, s, w, *, intercept=True, weighted=True, power=0.5):
    X = torch.cat([torch.ones(len(Z), 1, dtype=Z.dtype), Z], 1) if intercept else Z
    r = (w ** power if weighted else torch.ones_like(w))[:, None]
    sol = torch.linalg.lstsq(X * r, s[:, None] * r).solution[:, 0]
    return (sol[0], sol[1:]) if intercept else (torch.zeros((), dtype=Z.dtype), sol)


def check_local_surrogate(local_surrogate, seed=0):
    """Check ``local_surrogate(Z (K, d), scores (K,), weights (K,)) -> (intercept, coef (d,))``: the weighted
    least-squares fit minimising ``sum_k weights_k (scores_k - intercept - Z_k . coef)^2``."""
    check_own_work(local_surrogate, forbidden=_READY, library=_LIBRARY, exercise="local_surrogate")
    g = generator(seed)
    K, d = 40, 5
    Z = (torch.rand(K, d, generator=g) < 0.5).double()
    scores = Z @ torch.randn(d, generator=g, dtype=torch.float64) + 0.8 + torch.randn(K, generator=g,
                                                                                      dtype=torch.float64)
    weights = torch.rand(K, generator=g, dtype=torch.float64) ** 2 * 3 + 0.01
    got = run(local_surrogate, Z.clone(), scores.clone(), weights.clone())
    if not (isinstance(got, tuple) and len(got) == 2):
        raise AssertionError(f"return the pair (intercept, coef), got {_what(got)}")
    b0, coef = got
    if isinstance(b0, torch.Tensor) and tuple(b0.shape) == (d,):
        raise AssertionError("the pair is swapped: return (intercept, coef)")
    tensor_of_shape(coef, (d,), "coef (d,)")
    try:
        b0 = torch.as_tensor(float(b0), dtype=torch.float64)
    except (TypeError, ValueError):
        raise AssertionError(f"intercept: expected one number, got {_what(b0)}") from None
    want_b, want_c = _wls(Z, scores, weights)
    mistakes = [
        (dict(weighted=False), "the weights are ignored: minimise sum_k weights_k * residual_k^2 (e.g. scale each row "
                               "and score by sqrt(weights_k) before least squares)"),
        (dict(power=1.0), "rows scaled by weights_k: that minimises sum weights_k^2 residual_k^2; scale by "
                          "sqrt(weights_k)"),
        (dict(intercept=False), "no intercept: add a column of ones so the fit has a constant term"),
        (dict(intercept=False, weighted=False), "no intercept and no weights: add a column of ones and weight each "
                                                "row by sqrt(weights_k)"),
    ]
    for switches, hint in mistakes:
        wrong_b, wrong_c = _wls(Z, scores, weights, **switches)
        if close(coef, wrong_c, tol=1e-5) and close(b0, wrong_b, tol=1e-5):
            raise AssertionError(hint)
    if close(coef, want_c, tol=1e-5) and not close(b0, want_b, tol=1e-5):
        raise AssertionError("coef is right but the intercept is not: it is the fit's constant term")
    if not (close(coef, want_c, tol=1e-5) and close(b0, want_b, tol=1e-5)):
        raise AssertionError("(intercept, coef) differ from the weighted least-squares solution")
    return passed("local_surrogate")


def _deletion(f, x, attr, baseline, *, order="desc", cumulative=True, start=True):
    if order == "desc":
        idx = torch.argsort(attr, descending=True, stable=True)
    elif order == "asc":
        idx = torch.argsort(attr, stable=True)
    else:
        idx = torch.argsort(attr.abs(), descending=True, stable=True)
    rows = [x.clone()] if start else []
    cur = x.clone()
    for i in idx:
        if not cumulative:
            cur = x.clone()
        cur = cur.clone()
        cur[i] = baseline[i]
        rows.append(cur)
    return f(torch.stack(rows))


def check_deletion_scores(deletion_scores, seed=0):
    """Check ``deletion_scores(f, x (d,), attributions (d,), baseline (d,)) -> (d + 1,)``: ``f`` after removing
    (setting to the baseline) the ``k`` features with the LARGEST attributions, for ``k = 0 .. d``."""
    check_own_work(deletion_scores, forbidden=_READY, library=_LIBRARY, exercise="deletion_scores")
    d = 6
    f, g = _model(seed + 100, d)
    x = torch.randn(d, generator=g, dtype=torch.float64)
    baseline = torch.randn(d, generator=g, dtype=torch.float64) * 0.3
    attr = torch.randn(d, generator=g, dtype=torch.float64)
    attr[int(attr.argmin())] = -4.0  # a strongly negative score: ranked last by sign, first by absolute value
    got = run(deletion_scores, f, x.clone(), attr.clone(), baseline.clone())
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (d,):
        if close(got, _deletion(f, x, attr, baseline, start=False)):
            raise AssertionError("the curve starts at k = 0, f(x) with nothing removed: return d + 1 values")
        raise AssertionError("expected d + 1 values, k = 0 .. d features removed, starting with f(x)")
    tensor_of_shape(got, (d + 1,), "the curve (d + 1,)")
    hints = [
        (dict(order="asc"), "removed in increasing order: remove the feature with the LARGEST attribution first"),
        (dict(order="abs"), "ordered by absolute value: rank by the signed attribution, largest first (a negative "
                            "score says the feature pushed f down)"),
        (dict(cumulative=False), "not cumulative: step k removes the top k features together, not only the k-th"),
    ]
    want = _deletion(f, x, attr, baseline)
    for switches, hint in hints:
        wrong = _deletion(f, x, attr, baseline, **switches)
        if close(got, wrong) and not close(wrong, want):
            raise AssertionError(hint)
    if close(got, _deletion(f, x, attr, torch.zeros_like(baseline))):
        raise AssertionError("you removed features by setting them to 0: use the baseline you are given")
    if not close(got, _deletion(f, x, attr, baseline)):
        raise AssertionError("expected f(x) and then f after setting the top-1, top-2, ... features to the baseline")
    return passed("deletion_scores")
