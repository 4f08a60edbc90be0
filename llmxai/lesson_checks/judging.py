"""Lesson 18 (judging explanations): AOPC from a deletion curve, Spearman's rank correlation with
ties, and ERASER's comprehensiveness and sufficiency of a rationale mask."""

import torch

from llmxai.device import generator
from llmxai.lesson_checks.common import _what, check_own_work, close, passed, run, tensor_of_shape

_READY = ("aopc", "deletion_curve", "spearman", "spearmanr", "rank_correlation", "rankdata", "corrcoef",
          "comprehensiveness", "sufficiency", "pearsonr")


def _library():
    from llmxai import explain

    return (explain.aopc, explain.deletion_curve, explain.spearman, explain.rank_correlation,
            explain.comprehensiveness, explain.sufficiency)


# ---- AOPC from a MoRF curve ----

def _aopc(curve, *, sign=1.0, skip_start=False, how="mean"):
    drop = sign * (curve[:, :1] - curve)  # (B, K)
    if how == "trapezoid":
        return torch.trapezoid(drop, dx=1.0 / (curve.shape[1] - 1), dim=1)
    if skip_start:
        drop = drop[:, 1:]
    return drop.sum(1) if how == "sum" else drop.mean(1)


def check_aopc_from_curve(aopc_from_curve, seed=0):
    """Check ``aopc_from_curve(curve (B, L + 1)) -> (B,)``: ``1/(L+1) sum_k [curve[:, 0] - curve[:, k]]``,
    where ``curve[:, k]`` is the score with the top ``k`` features removed."""
    check_own_work(aopc_from_curve, forbidden=_READY, library=_library(), exercise="aopc_from_curve")
    g = generator(seed + 400)
    B, K = 4, 8
    start = 0.6 + 0.4 * torch.rand(B, 1, generator=g, dtype=torch.float64)
    falls = torch.rand(B, K - 1, generator=g, dtype=torch.float64) * 0.2
    curve = torch.cat([start, start - falls.cumsum(1)], dim=1)  # (B, K), mostly falling
    curve[:, 3] += 0.05  # not monotone: a removal may also raise the score
    got = run(aopc_from_curve, curve.clone())
    if isinstance(got, torch.Tensor) and got.numel() == 1 and B > 1:
        if close(got.reshape(()), _aopc(curve).mean()):
            raise AssertionError("one number for the whole batch: return one AOPC per row, shape (B,); "
                                 "average over the batch only when you report it")
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (B, K):
        raise AssertionError("you returned the drops per step (B, L + 1): average them over k to one number per row")
    tensor_of_shape(got, (B,), "one AOPC per row (B,)")
    mistakes = [
        (dict(sign=-1.0), "the sign is flipped: AOPC averages the DROP f(x^(0)) - f(x^(k)), which is positive "
                          "when removing relevant features lowers the score"),
        (dict(skip_start=True), "you averaged over k = 1 .. L only: the sum runs over k = 0 .. L (its first term "
                                "is 0) and is divided by L + 1"),
        (dict(how="trapezoid"), "that is the trapezoid area over the curve: AOPC is the plain mean of the drops "
                                "over the L + 1 points"),
        (dict(how="sum"), "you summed the drops: divide by L + 1, the number of points on the curve"),
        (dict(sign=-1.0, how="sum"), "summed and with the wrong sign: average curve[:, 0] - curve[:, k] over k"),
    ]
    want = _aopc(curve)
    if not close(got, want):
        for switches, hint in mistakes:
            if close(got, _aopc(curve, **switches)):
                raise AssertionError(hint)
        if close(got, curve.mean(1)):
            raise AssertionError("that is the mean score along the curve: AOPC averages the drop from the "
                                 "start, curve[:, 0] - curve[:, k]")
        raise AssertionError("expected (curve[:, :1] - curve).mean(1): the mean drop from the start over k = 0 .. L")
    return passed("aopc_from_curve")


# ---- Spearman's rank correlation with ties ----

def _avg_ranks(x):
    """1-based ranks, ties given the mean of the ranks they span."""
    order = torch.argsort(x, stable=True)
    ranks = torch.empty_like(x, dtype=torch.float64)
    ranks[order] = torch.arange(1, len(x) + 1, dtype=torch.float64)
    for v in x.unique():
        tied = x == v
        ranks[tied] = ranks[tied].mean()
    return ranks


def _pearson(a, b):
    a, b = a.double() - a.double().mean(), b.double() - b.double().mean()
    return float((a @ b) / (a.norm() * b.norm()))


def _spearman(a, b, how="average"):
    if how == "pearson":
        return _pearson(a, b)
    if how == "ordinal":  # ties broken by position
        return _pearson(torch.argsort(torch.argsort(a, stable=True)), torch.argsort(torch.argsort(b, stable=True)))
    if how == "argsort":  # the order, not the ranks
        return _pearson(torch.argsort(a, stable=True), torch.argsort(b, stable=True))
    ra, rb = _avg_ranks(a), _avg_ranks(b)
    if how == "formula":  # 1 - 6 sum d^2 / (n (n^2 - 1)): exact only without ties
        n = len(a)
        return float(1 - 6 * ((ra - rb) ** 2).sum() / (n * (n**2 - 1)))
    return _pearson(ra, rb)


def check_spearman_rho(spearman_rho, seed=0):
    """Check ``spearman_rho(a (n,), b (n,)) -> float``: the Pearson correlation of the ranks of ``a`` and
    ``b``, tied values sharing the mean of the ranks they span."""
    check_own_work(spearman_rho, forbidden=_READY, library=_library(), exercise="spearman_rho")
    g = generator(seed + 500)
    cases = []
    for n in (9, 12):
        a = torch.randint(0, 4, (n,), generator=g).double()  # small integers: many ties
        b = a + torch.randint(-2, 3, (n,), generator=g).double()
        cases.append((a, b))
    a = torch.randn(10, generator=g, dtype=torch.float64)
    cases.append((a, a.exp() + 0.1 * torch.randn(10, generator=g, dtype=torch.float64)))  # monotone, not linear
    cases.append((torch.tensor([0.0, 0.0, 1.0, 2.0, 2.0, 2.0, 5.0]), torch.tensor([3.0, 1.0, 1.0, 0.0, 4.0, 4.0, 6.0])))
    for a, b in cases:
        got = run(spearman_rho, a.clone(), b.clone())
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            raise AssertionError(f"return one number (a float), got {_what(got)}")
        want = _spearman(a, b)
        if abs(got - want) < 1e-6:
            continue
        mistakes = [
            ("pearson", "that is Pearson's correlation of the values: correlate their RANKS, so that any "
                        "monotone relation gives 1"),
            ("formula", "1 - 6 sum d^2 / (n (n^2 - 1)) holds only without ties: compute Pearson's correlation "
                        "of the (average) ranks"),
            ("ordinal", "tied values got different ranks (argsort of argsort breaks ties by position): give tied "
                        "values the mean of the ranks they span"),
            ("argsort", "one argsort gives the ORDER (which index comes first), not the rank of each element"),
        ]
        for how, hint in mistakes:
            if abs(got - _spearman(a, b, how)) < 1e-6:
                raise AssertionError(hint)
        raise AssertionError("expected Pearson's correlation of the average ranks of a and b")
    return passed("spearman_rho")


# ---- ERASER ----

def _model(seed, n=6):
    """A non-linear row-wise score F: (B, n) -> (B,) in (0, 1), fixed by ``seed``."""
    g = generator(seed)
    W = torch.randn(5, n, generator=g, dtype=torch.float64)
    v = torch.randn(5, generator=g, dtype=torch.float64)

    def F(x):
        return torch.sigmoid(torch.tanh(x @ W.T) @ v + 0.3)

    return F


def _eraser(F, x, mask, baseline):
    comp = F(x) - F(torch.where(mask, baseline, x))  # rationale removed
    suff = F(x) - F(torch.where(mask, x, baseline))  # only the rationale kept
    return comp, suff


def check_eraser_scores(eraser_scores, seed=0):
    """Check ``eraser_scores(F, x (B, n), mask (B, n) bool, baseline float) -> (comp (B,), suff (B,))``:
    ``comp = F(x) - F(x with the masked features set to the baseline)``, ``suff = F(x) - F(x with every
    feature OUTSIDE the mask set to the baseline)``."""
    check_own_work(eraser_scores, forbidden=_READY, library=_library(), exercise="eraser_scores")
    B, n = 5, 6
    F = _model(seed + 600, n)
    g = generator(seed + 601)
    x = torch.randn(B, n, generator=g, dtype=torch.float64)
    mask = torch.rand(B, n, generator=g) < 0.4
    mask[:, 0] = True  # every row has a rationale ...
    mask[:, -1] = False  # ... and something outside it
    baseline = -0.5
    got = run(eraser_scores, F, x.clone(), mask.clone(), baseline)
    if not (isinstance(got, tuple) and len(got) == 2):
        raise AssertionError(f"return the pair (comprehensiveness, sufficiency), got {_what(got)}")
    comp, suff = got
    tensor_of_shape(comp, (B,), "comprehensiveness (B,)")
    tensor_of_shape(suff, (B,), "sufficiency (B,)")
    want_c, want_s = _eraser(F, x, mask, baseline)
    if close(comp, want_c) and close(suff, want_s):
        return passed("eraser_scores")
    if close(comp, want_s) and close(suff, want_c):
        raise AssertionError("the pair is swapped (or the mask inverted): comprehensiveness REMOVES the rationale, "
                             "sufficiency KEEPS only the rationale")
    if close(comp, -want_c) or close(suff, -want_s):
        raise AssertionError("the sign is flipped: both scores are F(x) minus the score of the perturbed input")
    full = F(x)
    if close(comp, full - want_c) or close(suff, full - want_s):
        raise AssertionError("you returned the perturbed input's score: subtract it from F(x), the score of the "
                             "whole input")
    if close(comp, F(x) - F(torch.where(mask, torch.zeros_like(x), x))):
        raise AssertionError("you removed features by setting them to 0: use the baseline you are given")
    if close(comp, want_c):
        raise AssertionError("comprehensiveness is right, sufficiency is not: keep the masked features and set "
                             "every OTHER feature to the baseline")
    raise AssertionError("expected comp = F(x) - F(x, mask set to baseline) and suff = F(x) - F(x, all but the mask "
                         "set to baseline)")
