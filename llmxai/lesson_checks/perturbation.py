"""Lesson 16 (perturbation and Shapley values): exact Shapley values from a table of coalition
values, the KernelSHAP weighting kernel, LIME's weighted ridge fit, and the coalition values
of a text model."""

import math

import torch

from llmxai.device import generator
from llmxai.explain import exact_shapley, kernel_shap, leave_one_out, lime, occlusion
from llmxai.lesson_checks.common import _what, check_own_work, close, passed, run, tensor_of_shape

_READY = ("exact_shapley", "kernel_shap", "lime", "leave_one_out", "occlusion", "Ridge", "KernelExplainer",
          "ExactExplainer", "_coalition_scores", "_shap_samples")
_LIBRARY = (exact_shapley, kernel_shap, lime, leave_one_out, occlusion)


def _bits(M):
    """``(2^M, M)`` 0/1: row ``code`` has bit j (player j in the coalition) in column j."""
    return (torch.arange(2 ** M)[:, None] >> torch.arange(M)) & 1


def _shapley(v, M, *, weight="shapley", sign=1.0):
    Z = _bits(M)
    size = Z.sum(1)
    codes = torch.arange(2 ** M)
    if weight == "shapley":
        w = torch.tensor([math.factorial(s) * math.factorial(M - s - 1) / math.factorial(M) for s in range(M)],
                         dtype=v.dtype)
    elif weight == "banzhaf":
        w = torch.full((M,), 1 / 2 ** (M - 1), dtype=v.dtype)
    else:  # "no 1/M": 1 / C(M-1, s)
        w = torch.tensor([1 / math.comb(M - 1, s) for s in range(M)], dtype=v.dtype)
    phi = []
    for j in range(M):
        without = codes[Z[:, j] == 0]
        phi.append(sign * (w[size[without]] * (v[without + 2 ** j] - v[without])).sum())
    return torch.stack(phi)


def _reverse_codes(M):
    """The coalition code with the bit order reversed, for each code."""
    Z = _bits(M)
    return (Z.flip(1) * (2 ** torch.arange(M))).sum(1)


def check_shapley_values(shapley_values, seed=0):
    """Check ``shapley_values(v (2^M,), M) -> (M,)``: ``v[code]`` is the value of the coalition whose
    members are the set bits of ``code`` (bit j: player j), and
    ``phi_i = sum_{S without i} |S|! (M-|S|-1)! / M! (v(S + i) - v(S))``."""
    check_own_work(shapley_values, forbidden=_READY, library=_LIBRARY, exercise="shapley_values")
    g = generator(seed)
    for M in (3, 5):
        v = torch.randn(2 ** M, generator=g, dtype=torch.float64)
        got = run(shapley_values, v.clone(), M)
        want = _shapley(v, M)
        if isinstance(got, torch.Tensor) and got.numel() == M and tuple(got.shape) != (M,):
            raise AssertionError(f"return one value per player, shape ({M},), got shape {tuple(got.shape)}")
        tensor_of_shape(got, (M,), f"the Shapley values of {M} players")
        if close(got, -want):
            raise AssertionError("the sign is flipped: the marginal contribution is v(S with i) - v(S without i)")
        if close(got, _shapley(v, M, weight="banzhaf")):
            raise AssertionError("every coalition got the same weight 1 / 2^(M-1): that is the Banzhaf value; "
                                 "the Shapley weight is |S|! (M - |S| - 1)! / M!")
        if close(got, _shapley(v, M, weight="no 1/M")):
            raise AssertionError("the weights are M times too large: |S|! (M - |S| - 1)! / M! includes 1/M, "
                                 "so that the weights of all S without i sum to 1")
        full = 2 ** M - 1
        if close(got, torch.stack([v[full] - v[full - 2 ** j] for j in range(M)])):
            raise AssertionError("that is leave-one-out, v(N) - v(N without i): sum over every coalition S "
                                 "without i, not only the largest")
        if close(got, _shapley(v[_reverse_codes(M)], M)):
            raise AssertionError("the players are numbered backwards: bit j of the index (code >> j) & 1 "
                                 "says whether player j is in the coalition")
        if not close(got, want, tol=1e-9):
            gap = abs(got.sum().item() - (v[-1] - v[0]).item())
            raise AssertionError("values differ from the Shapley formula" + (
                f"; they do not even add up to v(N) - v(empty) (off by {gap:.3g}): check the weights"
                if gap > 1e-6 else ""))
    return passed("shapley_values")


def _kernel(s, M, *, binom=True, top=True, which="kernel"):
    s = s.double()
    if which == "shapley":
        return torch.tensor([math.factorial(int(k)) * math.factorial(M - int(k) - 1) / math.factorial(M)
                             for k in s], dtype=torch.float64)
    c = torch.tensor([math.comb(M if binom is True else M - 1, int(k)) for k in s], dtype=torch.float64)
    return (M - 1 if top else 1) / (c * s * (M - s))


def check_shapley_kernel(shapley_kernel, seed=0):
    """Check ``shapley_kernel(sizes (N,), M) -> (N,)``: ``pi(s) = (M-1) / (C(M, s) s (M-s))`` for
    coalition sizes ``0 < s < M``."""
    check_own_work(shapley_kernel, forbidden=_READY, library=_LIBRARY, exercise="shapley_kernel")
    g = generator(seed)
    for M in (5, 8):
        sizes = torch.randint(1, M, (12,), generator=g)
        sizes[:2] = torch.tensor([1, M // 2])  # a small and a middle size, always
        got = run(shapley_kernel, sizes.clone(), M)
        want = _kernel(sizes, M)
        tensor_of_shape(got, (len(sizes),), "one weight per coalition size")
        if not (isinstance(got, torch.Tensor) and got.is_floating_point()):
            raise AssertionError(f"expected floating-point weights, got {_what(got)}: divide in floating point")
        if close(got, (M - 1) / (sizes.double() * (M - sizes.double()))):
            raise AssertionError("the binomial C(M, s) is missing: (M-1) / (s (M-s)) is the total weight of all "
                                 "coalitions of size s; each single coalition gets that divided by C(M, s)")
        if close(got, _kernel(sizes, M, which="shapley")):
            raise AssertionError("those are the Shapley value's weights |S|! (M-|S|-1)! / M!, not the kernel's "
                                 "pi(s) = (M-1) / (C(M, s) s (M-s))")
        if close(got, _kernel(sizes, M, binom=False)):
            raise AssertionError("the binomial is C(M, s), the number of coalitions of size s among all M players")
        if close(got, want, tol=1e-9):
            continue
        ratio = got.double() / want
        if bool(torch.isfinite(ratio).all()) and close(ratio, torch.full_like(ratio, ratio[0].item())):
            raise AssertionError(f"off by a constant factor {ratio[0].item():.4g}: pi(s) = (M-1) / (C(M, s) s (M-s))")
        raise AssertionError("weights differ from pi(s) = (M-1) / (C(M, s) s (M-s))")
    return passed("shapley_kernel")


def _ridge(Z, y, weights, alpha, *, intercept=True, penalise_b=False, use_w="sqrt"):
    A = torch.cat([torch.ones(len(y), 1, dtype=Z.dtype), Z], 1) if intercept else Z
    W = {"sqrt": weights, "none": torch.ones_like(weights), "square": weights ** 2}[use_w]
    P = torch.eye(A.shape[1], dtype=Z.dtype)
    if intercept and not penalise_b:
        P[0, 0] = 0
    coef = torch.linalg.solve(A.T @ (W[:, None] * A) + alpha * P, A.T @ (W * y))
    return coef[1:] if intercept else coef


def check_lime_fit(lime_fit, seed=0):
    """Check ``lime_fit(Z (N, M), y (N,), weights (N,), alpha) -> w (M,)``: the minimiser of
    ``sum_k weights_k (y_k - b - w . z_k)^2 + alpha |w|^2`` over ``b, w`` (the intercept ``b`` is
    not penalised); return ``w``."""
    check_own_work(lime_fit, forbidden=_READY, library=_LIBRARY, exercise="lime_fit")
    g = generator(seed)
    N, M, alpha = 40, 5, 0.7
    Z = (torch.rand(N, M, generator=g) < 0.5).double()
    y = 2.0 + Z @ torch.randn(M, generator=g, dtype=torch.float64) + 0.5 * torch.randn(N, generator=g,
                                                                                      dtype=torch.float64)
    weights = torch.rand(N, generator=g, dtype=torch.float64) * 2 + 0.05
    got = run(lime_fit, Z.clone(), y.clone(), weights.clone(), alpha)
    want = _ridge(Z, y, weights, alpha)
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (M + 1,):
        raise AssertionError(f"return the {M} word coefficients w only, without the intercept b")
    tensor_of_shape(got, (M,), "the coefficients w (M,)")
    mistakes = [
        (dict(penalise_b=True), "the intercept is penalised too: the ridge penalty alpha |w|^2 leaves b free "
                                "(put 0 for b in the penalty matrix)"),
        (dict(intercept=False), "no intercept: fit g(z) = b + w . z, with a column of ones for b"),
        (dict(use_w="none"), "the sample weights are ignored: each squared residual is multiplied by its weight"),
        (dict(use_w="square"), "the weights are applied twice: with W = diag(weights), solve "
                               "(A^T W A + alpha P) coef = A^T W y (scale rows by sqrt(weights), not weights)"),
    ]
    for switches, hint in mistakes:
        if close(got, _ridge(Z, y, weights, alpha, **switches), tol=1e-7):
            raise AssertionError(hint)
    if close(got, _ridge(Z, y, weights, 0.0), tol=1e-7):
        raise AssertionError("no penalty: add alpha to the diagonal of A^T W A (except for the intercept)")
    if not close(got, want, tol=1e-7):
        raise AssertionError("w differs from the weighted ridge solution (A^T W A + alpha P)^{-1} A^T W y, "
                             "A = [1, Z], P = diag(0, 1, ..., 1)")
    return passed("lime_fit")


class _TinyText(torch.nn.Module):
    """A small order-sensitive text classifier: ids ``(N, T)`` -> logits ``(N, 2)``."""

    def __init__(self, seed, vocab_size=12, T=5, d=6):
        super().__init__()
        g = generator(seed)
        self.vocab_size = vocab_size
        self.emb = torch.nn.Parameter(torch.randn(vocab_size, d, generator=g, dtype=torch.float64))
        self.pos = torch.nn.Parameter(torch.rand(T, d, generator=g, dtype=torch.float64) + 0.5)
        self.out = torch.nn.Parameter(torch.randn(d, 2, generator=g, dtype=torch.float64))

    def forward(self, ids):
        h = torch.tanh((self.emb[ids] * self.pos[:ids.shape[1]]).sum(1))  # (N, d)
        return h @ self.out  # (N, 2)


def _values(model, ids, target, baseline, *, keep_bit=1, reverse=False, probability=False, delete=False):
    M = ids.shape[1]
    Z = _bits(M).bool()
    if reverse:
        Z = Z.flip(1)
    if keep_bit == 0:
        Z = ~Z
    with torch.no_grad():
        if delete:
            out = torch.stack([model(ids[:, z])[0] if z.any() else model(ids[:, :1] * 0 + baseline)[0] for z in Z])
        else:
            out = model(torch.where(Z, ids, torch.full_like(ids, baseline)))
    if probability:
        out = out.softmax(-1)
    return out[:, target]


def check_coalition_values(coalition_values, seed=0):
    """Check ``coalition_values(model, ids (1, M), target, baseline) -> v (2^M,)``: ``v[code]`` is the
    model's ``target`` logit on ``ids`` with token j kept where bit j of ``code`` is set and replaced
    by the ``baseline`` id elsewhere."""
    check_own_work(coalition_values, forbidden=_READY, library=_LIBRARY, exercise="coalition_values")
    g = generator(seed)
    M = 5
    model = _TinyText(seed).eval()
    ids = torch.randint(2, model.vocab_size, (1, M), generator=g)
    target, baseline = int(torch.randint(0, 2, (1,), generator=g)), 0
    got = run(coalition_values, model, ids.clone(), target, baseline)
    if isinstance(got, torch.Tensor) and got.numel() == 2 ** M and got.dim() != 1:
        raise AssertionError(f"return one value per coalition, shape ({2 ** M},), got shape {tuple(got.shape)}")
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (2 ** M, 2):
        raise AssertionError("return the target's logit only, one number per coalition")
    tensor_of_shape(got, (2 ** M,), "one value per coalition")
    got = got.detach()
    want = _values(model, ids, target, baseline)
    mistakes = [
        (dict(keep_bit=0), "bit j set means token j is KEPT (code 0 is the empty coalition, all baseline)"),
        (dict(reverse=True), "the bits are read backwards: bit j of code, (code >> j) & 1, is token j"),
        (dict(probability=True), "that is a probability: the value is the target's logit, the model's output "
                                 "before any softmax"),
        (dict(delete=True), "the removed tokens were deleted: replace them by the baseline id and keep the "
                            "sentence's length"),
    ]
    for switches, hint in mistakes:
        if close(got, _values(model, ids, target, baseline, **switches)):
            raise AssertionError(hint)
    if close(got, _values(model, ids, 1 - target, baseline)):
        raise AssertionError("that is the other class: take the logit of `target`")
    if not close(got, want):
        raise AssertionError("values differ from model(ids with token j replaced by baseline where bit j is 0)"
                             "[:, target]")
    return passed("coalition_values")
