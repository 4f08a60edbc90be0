"""Metrics that judge explanations: faithfulness curves, ERASER scores, agreement with rationales,
rank correlations, and sanity checks by weight randomisation.

``inputs`` are token ids ``(B, T)`` (a removed token becomes ``baseline``, the padding id 0 by
default, and the sequence keeps its length, as in :mod:`llmxai.explain.perturb`) or a floating
tensor ``(B, ...)``; ``attributions`` have the shape of ``inputs`` and each
element is one feature. ``target`` is as for the explanation methods.
"""

import copy
import math
from dataclasses import dataclass

import torch

from llmxai import validate
from llmxai.explain import _common
from llmxai.device import generator


def _check_like(x, inputs, name):
    validate.tensor(x, name)
    if x.shape != inputs.shape:
        raise ValueError(f"{name}: expected the shape of inputs {tuple(inputs.shape)}, got {tuple(x.shape)}")


def _removed_scores(model, inputs, remove, target, baseline, probability, batch_size):
    """Scores with the elements where ``remove (B, K, *S)`` is True set to the baseline: ``(B, K)``."""
    _common.check_target_batch(target, inputs.shape[0])
    validate.positive_int(batch_size, "batch_size")
    if not isinstance(probability, bool):
        raise TypeError(f"probability: expected a bool, got {type(probability).__name__}")
    base = _common.replacement(inputs, baseline, vocab_size=getattr(model, "vocab_size", None))
    with _common.eval_mode(model):
        lengths = _common.lengths_of(model, inputs, not inputs.is_floating_point())
        return torch.stack([
            _common.batched_scores(model, torch.where(remove[b], base[b], inputs[b]), _common.row_target(target, b),
                                   batch_size, probability, length=None if lengths is None else lengths[b])
            for b in range(inputs.shape[0])])


def _top(attributions, counts):
    """``(B, K, *S)`` masks of the ``counts[k]`` highest-scored elements of each sample (ties: first wins)."""
    B, S = attributions.shape[0], attributions.shape[1:]
    order = torch.sort(attributions.reshape(B, -1), dim=1, descending=True, stable=True).indices
    rank = order.argsort(1)  # (B, M): 0 for the most relevant element
    return (rank[:, None, :] < counts.to(rank.device)[None, :, None]).reshape(B, len(counts), *S)


@dataclass
class Curve:
    """Scores after removing (deletion) or inserting (insertion) ``fractions`` of the features."""
    fractions: torch.Tensor  # (K,)
    scores: torch.Tensor  # (B, K)
    auc: torch.Tensor  # (B,) trapezoid rule over fractions in [0, 1]
    kind: str = "deletion"  # or "insertion"


def _curve(model, inputs, attributions, target, baseline, steps, probability, batch_size, insert):
    _common.check_inputs(inputs, model)
    _check_like(attributions, inputs, "attributions")
    M = inputs[0].numel()
    steps = M if steps is None else validate.positive_int(steps, "steps")
    counts = torch.tensor([round(s * M / steps) for s in range(steps + 1)])
    top = _top(attributions, counts)
    scores = _removed_scores(model, inputs, ~top if insert else top, target, baseline, probability, batch_size)
    fractions = (counts / M).to(scores)
    return Curve(fractions, scores, torch.trapezoid(scores, fractions, dim=1), "insertion" if insert else "deletion")


def deletion_curve(model, inputs, attributions, target, *, baseline=0, steps=None, probability=False, batch_size=64):
    """Remove features from most to least relevant and record the score (Petsiuk, Das & Saenko 2018,
    arXiv 1806.07421). ``steps`` points after the start (default: one feature at a time). A faithful
    attribution makes the score fall fast: a low area is good.
    """
    return _curve(model, inputs, attributions, target, baseline, steps, probability, batch_size, insert=False)


def insertion_curve(model, inputs, attributions, target, *, baseline=0, steps=None, probability=False, batch_size=64):
    """Start from the baseline and insert features from most to least relevant (Petsiuk et al. 2018):
    a high area is good."""
    return _curve(model, inputs, attributions, target, baseline, steps, probability, batch_size, insert=True)


def aopc(model, inputs, attributions, target, *, baseline=0, steps=None, probability=False, batch_size=64):
    """Area over the MoRF perturbation curve, ``1/(L+1) sum_{k=0}^{L} [f(x^(0)) - f(x^(k))]``, per sample
    ``(B,)`` (Samek et al. 2017, DOI 10.1109/TNNLS.2016.2599820). Step ``k`` removes the top
    ``round(k M / L)`` features; ``L = steps`` (default: every feature)."""
    c = deletion_curve(model, inputs, attributions, target, baseline=baseline, steps=steps, probability=probability,
                       batch_size=batch_size)
    return (c.scores[:, :1] - c.scores).mean(1)


def _eraser(model, inputs, rationale, target, fractions, baseline, probability, batch_size, keep):
    _common.check_inputs(inputs, model)
    _check_like(rationale, inputs, "rationale")
    M = inputs[0].numel()
    if rationale.dtype == torch.bool:
        masks = rationale[:, None]  # (B, 1, *S)
    elif rationale.is_floating_point():
        if isinstance(fractions, (int, float)) or not hasattr(fractions, "__iter__"):
            raise TypeError(f"fractions: expected a sequence of numbers in (0, 1], got {type(fractions).__name__}")
        fr = [validate.number(f, "fractions[i]", maximum=1, above=0) for f in fractions]
        if not fr:
            raise ValueError(f"fractions: expected numbers in (0, 1], got {fractions!r}")
        masks = _top(rationale, torch.tensor([max(1, round(f * M)) for f in fr]))
    else:
        raise TypeError(f"rationale: expected a bool mask or float scores, got dtype {rationale.dtype}")
    full = _removed_scores(model, inputs, torch.zeros_like(masks[:, :1]), target, baseline, probability, batch_size)
    part = _removed_scores(model, inputs, ~masks if keep else masks, target, baseline, probability, batch_size)
    return (full - part).mean(1)


def comprehensiveness(model, inputs, rationale, target, *, fractions=(0.01, 0.05, 0.1, 0.2, 0.5), baseline=0,
                      probability=True, batch_size=64):
    """``p(y|x) - p(y|x without the rationale)`` per sample (DeYoung et al. 2020, ERASER,
    DOI 10.18653/v1/2020.acl-main.408): high is good.

    ``rationale`` is a bool mask, or float scores whose top ``fractions`` of tokens are taken in turn
    and the results averaged (as ERASER does for soft scores). Removed tokens are replaced by ``baseline``, not deleted.
    """
    return _eraser(model, inputs, rationale, target, fractions, baseline, probability, batch_size, keep=False)


def sufficiency(model, inputs, rationale, target, *, fractions=(0.01, 0.05, 0.1, 0.2, 0.5), baseline=0,
                probability=True, batch_size=64):
    """``p(y|x) - p(y|rationale only)`` per sample (DeYoung et al. 2020): low is good."""
    return _eraser(model, inputs, rationale, target, fractions, baseline, probability, batch_size, keep=True)


def _ranks(x):
    """1-based ranks of a 1-D tensor, ties given their average rank."""
    _, inverse, counts = x.unique(sorted=True, return_inverse=True, return_counts=True)
    end = counts.cumsum(0).double()
    return ((end - (counts.double() - 1) / 2))[inverse]  # (N,)


def _rows(scores, other, name):
    validate.tensor(scores, "scores", ndim=(1, 2), floating=True)
    validate.tensor(other, name, ndim=(1, 2))
    if other.shape != scores.shape:
        raise ValueError(f"{name}: expected the shape of scores {tuple(scores.shape)}, got {tuple(other.shape)}")
    if scores.numel() == 0:
        raise ValueError(f"scores: expected at least one row of at least one token, got shape {tuple(scores.shape)}")
    return scores.dim() == 1, scores.reshape(-1, scores.shape[-1]), other.reshape(-1, scores.shape[-1])


def _binary(rationale, name="rationale"):
    if rationale.dtype != torch.bool and not bool(((rationale == 0) | (rationale == 1)).all()):
        raise ValueError(f"{name}: expected a bool or 0/1 mask, got values {rationale.unique().tolist()[:6]}")
    return rationale.bool()


def rationale_auc(scores, rationale, valid=None):
    """ROC-AUC of token scores against a ground-truth rationale mask, per row: the probability that a
    rationale token outscores a non-rationale token, ties counting one half (Mann-Whitney U / (n+ n-)).

    ``scores`` ``(T,)`` or ``(B, T)``; ``valid`` (bool, same shape) leaves out padding. A row whose
    rationale is all or none of its (valid) tokens has no AUC: a ``ValueError`` names it, as
    scikit-learn's ``roc_auc_score`` does.
    """
    single, S, R = _rows(scores, rationale, "rationale")
    R = _binary(R)
    V = torch.ones_like(R) if valid is None else _binary(_rows(scores, valid, "valid")[2], "valid")
    out = []
    for row, (s, r, v) in enumerate(zip(S, R, V)):
        r = r[v]
        n_pos, n_neg = int(r.sum()), int((~r).sum())
        if n_pos == 0 or n_neg == 0:
            where = "" if single else f" in row {row}"
            raise ValueError(f"rationale: expected both rationale and other tokens{where}, got "
                             f"{n_pos} rationale and {n_neg} other tokens; ROC-AUC is not defined then")
        out.append((_ranks(s[v])[r].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    out = torch.stack(out)
    return out[0] if single else out


def precision_at_k(scores, rationale, k):
    """Fraction of the ``k`` highest-scored tokens that are rationale tokens, per row (ties: first wins)."""
    single, S, R = _rows(scores, rationale, "rationale")
    R = _binary(R)
    T = S.shape[1]
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= T:
        raise ValueError(f"k: expected an int in [1, {T}] (the number of tokens), got {k!r}")
    top = torch.sort(S, dim=1, descending=True, stable=True).indices[:, :k]
    out = R.gather(1, top).double().mean(1)
    return out[0] if single else out


def spearman(a, b):
    """Spearman rank correlation of two tensors of the same shape (flattened), ties given average ranks
    (Spearman 1904). A constant tensor has no rank correlation: a ``ValueError`` names it."""
    validate.tensor(a, "a", floating=True)
    validate.tensor(b, "b", floating=True)
    if a.shape != b.shape or a.numel() < 2:
        raise ValueError(f"b: expected the shape of a {tuple(a.shape)} with at least 2 elements, got {tuple(b.shape)}")
    r = _spearman(a, b)
    if math.isnan(float(r)):
        raise ValueError(f"{_constant(a, b)}: expected values that are not all equal, got a constant tensor; "
                         "the rank correlation is not defined then")
    return r


def _spearman(a, b):
    """Spearman correlation, NaN when either tensor is constant."""
    ra, rb = _ranks(a.flatten()), _ranks(b.flatten())
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = ra.norm() * rb.norm()
    return (ra @ rb) / denom if denom > 0 else torch.tensor(math.nan, dtype=torch.float64, device=a.device)


def _constant(a, b):
    return "a" if bool((a == a.flatten()[0]).all()) else "b"


def rank_correlation(a, b, absolute=False):
    """Spearman correlation between two attributions of the same inputs, per sample ``(B,)``;
    ``absolute`` compares magnitudes only (Adebayo et al. 2018 report both). A sample whose
    attribution is constant has none: a ``ValueError`` names it."""
    r = _rank_correlation(a, b, absolute)
    bad = torch.isnan(r).nonzero()[:, 0].tolist()
    if bad:
        i = bad[0]
        x, y = (a[i].abs(), b[i].abs()) if absolute else (a[i], b[i])
        raise ValueError(f"{_constant(x, y)}: expected attributions that are not all equal, got constant "
                         f"ones in samples {bad[:10]}; the rank correlation is not defined then")
    return r


def _rank_correlation(a, b, absolute):
    validate.tensor(a, "a", min_ndim=2, floating=True)
    validate.tensor(b, "b", min_ndim=2, floating=True)
    if a.shape != b.shape:
        raise ValueError(f"b: expected the shape of a {tuple(a.shape)}, got {tuple(b.shape)}")
    if not isinstance(absolute, bool):
        raise TypeError(f"absolute: expected a bool, got {type(absolute).__name__}")
    if a[0].numel() < 2:
        raise ValueError(f"a: expected at least 2 elements per sample, got shape {tuple(a.shape)}")
    if absolute:
        a, b = a.abs(), b.abs()
    return torch.stack([_spearman(x, y) for x, y in zip(a, b)])


@dataclass
class RandomizationResult:
    """Rank correlation between the explanation of the trained model and that of each randomised one."""
    layers: list  # module names, in the order they were randomised
    correlations: torch.Tensor  # (n_layers, B); NaN where an explanation became constant


def _param_modules(model, layers):
    valid = [n for n, m in model.named_modules() if any(True for _ in m.parameters(recurse=False))]  # "" = root
    if layers is None:
        return valid
    names = [layers] if isinstance(layers, str) else list(layers) if isinstance(layers, (list, tuple)) else None
    if names is None or not all(isinstance(n, str) for n in names):
        raise TypeError(f"layers: expected a module name or a list of names, got {layers!r:.80}")
    modules = dict(model.named_modules())
    bad = [n for n in names if n not in modules or not any(True for _ in modules[n].parameters())]
    if bad or not names:
        raise ValueError(f"layers: unknown or parameter-free module(s) {bad or names}; valid names are {valid}")
    return names


@torch.no_grad()
def _randomize(module, generator):
    """Redraw every parameter from a normal with its own mean and standard deviation."""
    for p in module.parameters():
        noise = torch.randn(p.shape, generator=generator, dtype=torch.float64).to(p.device)  # CPU draw: same on every device
        p.copy_((p.double().mean() + p.double().std(unbiased=False) * noise).to(p))


def _randomization(model, explain, inputs, target, layers, seed, absolute, cascading):
    validate.module(model)
    if not callable(explain):
        raise TypeError(f"explain: expected a function (model, inputs, target) -> attributions, got {type(explain).__name__}")
    validate.seed(seed)
    names = _param_modules(model, layers)
    if cascading and layers is None:
        names = names[::-1]  # from the output back towards the input
    reference = validate.tensor(explain(model, inputs, target), "explain(model, inputs, target)").detach()
    g = generator(seed)
    rows, shuffled = [], copy.deepcopy(model)
    for name in names:
        if not cascading:
            shuffled = copy.deepcopy(model)
        _randomize(dict(shuffled.named_modules())[name], g)
        attr = validate.tensor(explain(shuffled, inputs, target), "explain(model, inputs, target)").detach()
        if attr.shape != reference.shape:
            raise ValueError(f"explain: expected attributions of shape {tuple(reference.shape)}, got {tuple(attr.shape)}")
        # A randomised layer may flatten the explanation to a constant: that is a finding
        # (recorded as NaN), not a bad call.
        rows.append(_rank_correlation(reference, attr, absolute))
    return RandomizationResult(names, torch.stack(rows))


def cascading_randomization(model, explain, inputs, target, *, layers=None, seed=0, absolute=True):
    """Model-parameter randomisation test, cascading: randomise layers one after another from the top,
    keeping earlier ones randomised, and correlate each explanation with the original (Adebayo et al.
    2018, arXiv 1810.03292). ``explain(model, inputs, target)`` is any explanation function.
    An explanation that stays highly correlated does not depend on the weights.
    """
    return _randomization(model, explain, inputs, target, layers, seed, absolute, cascading=True)


def independent_randomization(model, explain, inputs, target, *, layers=None, seed=0, absolute=True):
    """Model-parameter randomisation test, one layer at a time with the rest left trained (Adebayo et
    al. 2018)."""
    return _randomization(model, explain, inputs, target, layers, seed, absolute, cascading=False)
