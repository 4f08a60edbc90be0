"""Perturbation methods: remove features, watch the output move, and fit what moved.

Every method is ``method(model, inputs, target, **options)``. ``inputs`` are token ids
``(B, T)`` (a removed token becomes ``baseline``, the padding id 0 by default, and the
sequence keeps its length: a model that reads lengths off the padding gets the lengths of
the unperturbed ids, see :mod:`llmxai.explain._common`; the result is one score per token,
``(B, T)``) or a floating tensor ``(B, ...)`` (a removed feature takes the ``baseline``
value; the result is shaped like ``inputs``). ``feature_mask``
(integer ids ``0..M-1`` shaped like one sample, or like ``inputs``) groups elements into
features that are removed together, e.g. image patches; every element of a group receives
its group's attribution.
"""

import itertools
import math

import torch

from llmxai import validate
from llmxai.explain import _common
from llmxai.device import generator

MAX_EXACT_FEATURES = 10


def _groups(inputs, feature_mask):
    """Per sample: the feature id of each element (shaped like the sample) and the number of features M."""
    S = inputs.shape[1:]
    if feature_mask is None:
        g = torch.arange(inputs[0].numel(), device=inputs.device).reshape(S)
        return [(g, g.numel())] * inputs.shape[0]
    validate.tensor(feature_mask, "feature_mask", floating=False)
    feature_mask = feature_mask.to(inputs.device)
    if feature_mask.shape == S:
        masks = [feature_mask] * inputs.shape[0]
    elif feature_mask.shape == inputs.shape:
        masks = list(feature_mask)
    else:
        raise ValueError(f"feature_mask: expected shape {tuple(S)} or {tuple(inputs.shape)}, got {tuple(feature_mask.shape)}")
    out = []
    for m in masks:
        ids = m.unique()
        if int(ids.min()) != 0 or ids.numel() != int(ids.max()) + 1:
            raise ValueError(f"feature_mask: expected feature ids 0..M-1 with none missing, got {ids.tolist()}")
        out.append((m.to(inputs.device), ids.numel()))
    return out


def _coalition_scores(model, x, base, group, Z, target, batch_size, length):
    """Scores with feature j kept where ``Z[:, j]`` is 1 and set to the baseline elsewhere: ``(N,)``."""
    scores = []
    for i in range(0, Z.shape[0], batch_size):
        keep = Z[i:i + batch_size].bool()[:, group]  # (n, *S)
        scores.append(_common.batched_scores(model, torch.where(keep, x, base), target, batch_size, length=length))
    return torch.cat(scores)


def _attribute(model, inputs, target, baseline, feature_mask, batch_size, solve):
    """Shared loop: ``solve(scores_fn, M)`` returns the M feature attributions of one sample."""
    is_ids = _common.check_inputs(inputs, model)
    _common.check_target_batch(target, inputs.shape[0])
    validate.positive_int(batch_size, "batch_size")
    base = _common.replacement(inputs, baseline, vocab_size=getattr(model, "vocab_size", None))
    rows = []
    with _common.eval_mode(model):
        lengths = _common.lengths_of(model, inputs, is_ids)
        for b, (group, M) in enumerate(_groups(inputs, feature_mask)):
            t = _common.row_target(target, b)
            length = None if lengths is None else lengths[b]
            phi = solve(lambda Z: _coalition_scores(model, inputs[b], base[b], group, Z, t, batch_size, length), M)
            rows.append(phi[group])
    out = torch.stack(rows)
    return out if is_ids else out.to(inputs.dtype)


def leave_one_out(model, inputs, target, *, baseline=0, feature_mask=None, batch_size=64):
    """``f(x) - f(x without feature i)`` for every feature i (Li, Monroe & Jurafsky 2016, arXiv 1612.08220)."""
    def solve(scores, M):
        Z = torch.ones(M + 1, M, device=inputs.device)
        Z[1:] -= torch.eye(M, device=inputs.device)
        s = scores(Z)
        return s[0] - s[1:]

    return _attribute(model, inputs, target, baseline, feature_mask, batch_size, solve)


def exact_shapley(model, inputs, target, *, baseline=0, feature_mask=None, batch_size=64):
    """Shapley values by enumerating all ``2^M`` coalitions (M <= 10).

    ``phi_i = sum_{S not containing i} |S|! (M-|S|-1)! / M! [v(S + i) - v(S)]`` with
    ``v(S)`` the score when the features outside ``S`` take the baseline (Shapley 1953;
    Lundberg & Lee 2017, arXiv 1705.07874).
    """
    def solve(scores, M):
        if M > MAX_EXACT_FEATURES:
            raise ValueError(f"exact_shapley: expected at most {MAX_EXACT_FEATURES} features (2^M model calls), "
                             f"got M = {M}; group features with feature_mask or use kernel_shap")
        codes = torch.arange(2 ** M, device=inputs.device)
        Z = (codes[:, None] >> torch.arange(M, device=inputs.device)) & 1  # (2^M, M): bit j = feature j kept
        v = scores(Z)
        w = torch.tensor([math.factorial(s) * math.factorial(M - s - 1) / math.factorial(M) for s in range(M)],
                         dtype=v.dtype, device=v.device)
        size = Z.sum(1)
        phi = []
        for j in range(M):
            without = codes[Z[:, j] == 0]
            phi.append((w[size[without]] * (v[without + 2 ** j] - v[without])).sum())
        return torch.stack(phi)

    return _attribute(model, inputs, target, baseline, feature_mask, batch_size, solve)


def _shap_samples(M, n_samples, generator, device):
    """Coalitions and weights for KernelSHAP: all of them when the budget allows, else paired samples.

    Sampled coalition sizes follow the total kernel weight of each size, ``(M-1) / (s (M-s))``,
    so every sample then carries the same weight.
    """
    if n_samples >= 2 ** M - 2:
        Z = torch.tensor(list(itertools.product((0, 1), repeat=M)), device=device)[1:-1]
        s = Z.sum(1).double()
        w = (M - 1) / (torch.tensor([math.comb(M, int(k)) for k in s], dtype=torch.float64, device=device) * s * (M - s))
        return Z, w
    sizes = torch.arange(1, M, dtype=torch.float64)
    p = (M - 1) / (sizes * (M - sizes))
    half = max(n_samples // 2, 1)
    drawn = torch.multinomial(p / p.sum(), half, replacement=True, generator=generator) + 1
    order = torch.rand(half, M, generator=generator).argsort(1)
    Z = (order.argsort(1) < drawn[:, None]).long()  # a random subset of each drawn size
    Z = torch.cat([Z, 1 - Z]).to(device)  # complements reduce variance (paired sampling)
    return Z, torch.ones(Z.shape[0], dtype=torch.float64, device=device)


def kernel_shap(model, inputs, target, *, baseline=0, feature_mask=None, n_samples=1024, seed=0, batch_size=64):
    """KernelSHAP (Lundberg & Lee 2017, arXiv 1705.07874, Theorem 2).

    Weighted least squares of the scores on the coalitions with the Shapley kernel
    ``pi(z) = (M-1) / (C(M,|z|) |z| (M-|z|))``, constrained so that the attributions sum to
    ``f(x) - f(baseline)``. When ``n_samples >= 2^M - 2`` every coalition is used and the
    result equals the exact Shapley values.
    """
    validate.positive_int(n_samples, "n_samples")
    validate.seed(seed)
    g = generator(seed)

    def solve(scores, M):
        ends = scores(torch.stack([torch.zeros(M, device=inputs.device), torch.ones(M, device=inputs.device)]))
        f0, delta = ends[0], ends[1] - ends[0]
        if M == 1:
            return delta[None]
        Z, w = _shap_samples(M, n_samples, g, inputs.device)
        y = scores(Z).double() - f0.double()
        Zf = Z.double()
        # Substitute phi_M = delta - sum_{j<M} phi_j, then solve the unconstrained weighted problem.
        A = Zf[:, :-1] - Zf[:, -1:]
        r = y - Zf[:, -1] * delta.double()
        sw = w.sqrt()[:, None]
        head = torch.linalg.pinv(sw * A) @ (sw[:, 0] * r)
        return torch.cat([head, (delta.double() - head.sum())[None]]).to(ends.dtype)

    return _attribute(model, inputs, target, baseline, feature_mask, batch_size, solve)


def lime(model, inputs, target, *, baseline=0, feature_mask=None, n_samples=500, kernel_width=0.25, alpha=1.0,
         seed=0, batch_size=64):
    """LIME (Ribeiro, Singh & Guestrin 2016, DOI 10.1145/2939672.2939778, eq. 1-2).

    Draws binary masks ``z`` (the number of kept features uniform in ``1..M``; the first mask
    keeps all), weights each by ``pi(z) = exp(-D(z, 1)^2 / kernel_width^2)`` with ``D`` the
    cosine distance to the all-ones mask, and fits ``g(z) = b + w . z`` by ridge regression
    (``alpha``; the intercept is not penalised) in closed form. Returns ``w``.
    """
    validate.positive_int(n_samples, "n_samples", minimum=2)
    validate.seed(seed)
    kernel_width = validate.number(kernel_width, "kernel_width", above=0)
    alpha = validate.number(alpha, "alpha", minimum=0)
    g = generator(seed)

    def solve(scores, M):
        kept = torch.randint(1, M + 1, (n_samples,), generator=g)
        kept[0] = M
        order = torch.rand(n_samples, M, generator=g).argsort(1)
        Z = (order.argsort(1) < kept[:, None]).to(inputs.device)  # (N, M)
        v = scores(Z)
        y, Zd = v.double(), Z.double()
        distance = 1 - (Zd.sum(1) / M).sqrt()  # cosine distance between z and the all-ones mask
        sw = torch.exp(-distance ** 2 / kernel_width ** 2).sqrt()[:, None]
        D = torch.cat([torch.ones_like(y)[:, None], Zd], 1)  # (N, 1 + M): intercept first
        penalty = (alpha ** 0.5) * torch.eye(M + 1, dtype=torch.float64, device=D.device)[1:]
        coef = torch.linalg.pinv(torch.cat([sw * D, penalty])) @ torch.cat([sw[:, 0] * y, torch.zeros(M, dtype=y.dtype, device=y.device)])
        return coef[1:].to(v.dtype)

    return _attribute(model, inputs, target, baseline, feature_mask, batch_size, solve)


def _axis_windows(n, w, s):
    starts = list(range(0, n - w + 1, s))
    if starts[-1] + w < n:
        starts.append(n - w)  # cover the tail so every element is occluded at least once
    return starts


def _per_axis(value, shape, name, default):
    if value is None:
        value = default
    if not isinstance(value, (int, tuple, list)):
        raise TypeError(f"{name}: expected an int or a tuple of ints, got {type(value).__name__}")
    value = (value,) if isinstance(value, int) else tuple(value)
    if len(value) > len(shape):
        raise ValueError(f"{name}: expected at most {len(shape)} sizes (one per axis of a sample), got {value}")
    full = tuple(shape[:len(shape) - len(value)]) + value
    for v, n in zip(full, shape):
        validate.positive_int(v, name)
        if v > n:
            raise ValueError(f"{name}: expected sizes within the sample shape {tuple(shape)}, got {full}")
    return full


def occlusion(model, inputs, target, *, window=1, stride=None, baseline=0, batch_size=64):
    """Slide a window over the input, set it to the baseline, and credit each element with the
    mean drop ``f(x) - f(x occluded)`` over the windows that cover it (Zeiler & Fergus 2014,
    DOI 10.1007/978-3-319-10590-1_53).

    ``window`` and ``stride`` are ints or tuples for the trailing axes of a sample; leading
    axes are covered whole, so ``window=(4, 4)`` on images ``(B, C, H, W)`` occludes 4x4
    patches across all channels. ``stride`` defaults to ``window``.
    """
    is_ids = _common.check_inputs(inputs, model)
    _common.check_target_batch(target, inputs.shape[0])
    validate.positive_int(batch_size, "batch_size")
    S = inputs.shape[1:]
    win = _per_axis(window, S, "window", 1)
    step = _per_axis(stride, S, "stride", window)
    base = _common.replacement(inputs, baseline, vocab_size=getattr(model, "vocab_size", None))
    masks = []
    for corner in itertools.product(*[_axis_windows(n, w, s) for n, w, s in zip(S, win, step)]):
        m = torch.zeros(S, dtype=torch.bool, device=inputs.device)
        m[tuple(slice(c, c + w) for c, w in zip(corner, win))] = True
        masks.append(m)
    masks = torch.stack(masks)  # (n_windows, *S)
    count = masks.sum(0)
    rows = []
    with _common.eval_mode(model):
        lengths = _common.lengths_of(model, inputs, is_ids)
        for b in range(inputs.shape[0]):
            t = _common.row_target(target, b)
            length = None if lengths is None else lengths[b]
            full = _common.batched_scores(model, inputs[b:b + 1], t, length=length)
            occluded = _common.batched_scores(model, torch.where(masks, base[b], inputs[b]), t, batch_size,
                                              length=length)
            drop = (full - occluded).reshape(-1, *([1] * len(S)))
            rows.append((drop * masks).sum(0) / count)
    out = torch.stack(rows)
    return out if is_ids else out.to(inputs.dtype)
