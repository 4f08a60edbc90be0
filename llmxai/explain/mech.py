"""Mechanistic tools: activation patching, the logit lens, linear probes, and attention-head scores.

All of them read or replace named activations through :mod:`llmxai.hooks`; models follow
the transformer conventions (``blocks.{i}.hook_resid_post``, ``blocks.{i}.attn.hook_pattern``,
``ln_f``, ``unembed``).
"""

import fnmatch
import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from llmxai import validate
from llmxai.explain import _common
from llmxai.explain._inputs import usable
from llmxai.hooks import hook_names, run_with_cache, run_with_patches
from llmxai.device import generator


def logit_difference(logits, correct, wrong, position=-1):
    """``logit[correct] - logit[wrong]`` per sample, ``(B,)``, at ``position`` for LM logits ``(B, T, V)``.

    The metric of indirect-object identification (Wang et al. 2023, arXiv 2211.00593).
    ``correct`` and ``wrong`` are ints or ``(B,)`` integer tensors.
    """
    validate.tensor(logits, "logits", ndim=(2, 3), floating=True)
    if logits.numel() == 0:
        raise ValueError(f"logits: expected at least one sample and one token, got shape {tuple(logits.shape)}")
    if logits.dim() == 3:
        T = logits.shape[1]
        if isinstance(position, bool) or not isinstance(position, int) or not -T <= position < T:
            raise ValueError(f"position: expected an int in [-{T}, {T}), got {position!r}")
        logits = logits[:, position]  # (B, V)
    B, V = logits.shape
    picked = []
    for name, idx in (("correct", correct), ("wrong", wrong)):
        if isinstance(idx, int) and not isinstance(idx, bool):
            idx = torch.full((B,), idx, dtype=torch.long, device=logits.device)
        validate.tensor(idx, name, ndim=1, floating=False)
        validate.same_size(B, idx.shape[0], f"{name}: batch size")
        if B and (int(idx.min()) < 0 or int(idx.max()) >= V):
            raise ValueError(f"{name}: expected token ids in [0, {V}), got {idx.tolist()}")
        picked.append(logits.gather(1, idx.to(logits.device)[:, None])[:, 0])
    return picked[0] - picked[1]


def _select(model, names):
    """Hook names from a list of names or one glob pattern such as ``"blocks.*.hook_resid_post"``."""
    valid = hook_names(model)
    if not isinstance(names, (str, list, tuple)) or not all(isinstance(n, str) for n in names):
        raise TypeError(f"names: expected a glob pattern or a list of hook-point names, got {names!r:.80}")
    if isinstance(names, str):
        found = [n for n in valid if fnmatch.fnmatchcase(n, names)]
        if not found:
            raise ValueError(f"names: the pattern {names!r} matches no hook point; valid names are {valid}")
        return found
    names = list(names)
    missing = [n for n in names if n not in valid]
    if missing or not names:
        raise ValueError(f"names: unknown hook point(s) {missing or names}; valid names are {valid}")
    return names


def _scalar(value):
    if not isinstance(value, torch.Tensor) or value.dim() > 1 or value.numel() == 0:
        got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise ValueError(f"metric: expected a scalar or a (B,) tensor, got {got}")
    value = value.float().mean()
    if not bool(torch.isfinite(value)):
        raise ValueError(f"metric: expected a finite value, got {float(value)}")
    return value


def activation_patching(model, clean_ids, corrupt_ids, metric, names, *, per="all", direction="denoising"):
    """Metric after replacing activations of one run with those of the other (Meng et al. 2022,
    arXiv 2202.05262; Heimersheim & Nanda 2024, arXiv 2404.15255).

    ``direction="denoising"`` runs the corrupt input with clean activations patched in;
    ``"noising"`` runs the clean input with corrupt activations patched in. ``metric(logits)``
    returns a scalar (a ``(B,)`` result is averaged). ``names`` is a list of hook names or a glob
    pattern. ``per`` chooses what is patched at a time: ``"all"`` (the whole activation) ->
    ``(n_hooks,)``; ``"position"`` -> ``(n_hooks, T)`` (the query axis for per-head hooks);
    ``"head"`` -> ``(n_hooks, n_heads)``; ``"head_position"`` -> ``(n_hooks, n_heads, T)``.
    """
    for name, ids in (("clean_ids", clean_ids), ("corrupt_ids", corrupt_ids)):
        validate.tensor(ids, name, ndim=2, floating=False)
    if clean_ids.shape != corrupt_ids.shape:
        raise ValueError(f"corrupt_ids: expected the clean shape {tuple(clean_ids.shape)}, got {tuple(corrupt_ids.shape)}")
    validate.choice(per, "per", {"all", "position", "head", "head_position"})
    validate.choice(direction, "direction", {"denoising", "noising"})
    if not callable(metric):
        raise TypeError(f"metric: expected a callable on the logits, got {type(metric).__name__}")
    names = _select(model, names)
    source, run = (clean_ids, corrupt_ids) if direction == "denoising" else (corrupt_ids, clean_ids)
    results = []
    with _common.eval_mode(model), torch.no_grad():
        _, cache = run_with_cache(model, source, names=names)
        for name in names:
            A = cache[name]
            if per in ("head", "head_position") and A.dim() != 4:
                raise ValueError(f"per={per!r}: hook {name!r} has shape {tuple(A.shape)}, expected a per-head "
                                 "activation (B, n_heads, T, ...) such as attn.hook_z or attn.hook_pattern")
            t_axis = 2 if A.dim() == 4 else 1
            heads = range(A.shape[1]) if per in ("head", "head_position") else [None]
            positions = range(A.shape[t_axis]) if per in ("position", "head_position") else [None]
            grid = []
            for h in heads:
                row = [_scalar(metric(run_with_patches(model, run, patches={name: _patch(A, h, p, t_axis)})))
                       for p in positions]
                grid.append(torch.stack(row))
            grid = torch.stack(grid)  # (n_heads or 1, T or 1)
            results.append({"all": grid[0, 0], "position": grid[0], "head": grid[:, 0], "head_position": grid}[per])
    return torch.stack(results)


def _patch(source, head, position, t_axis):
    """A patch function that copies ``source`` at one head and/or position (everything if both are None)."""
    def patch(A):
        index = [slice(None)] * A.dim()
        if head is not None:
            index[1] = head
        if position is not None:
            index[t_axis] = position
        A = A.clone()
        A[tuple(index)] = source[tuple(index)]
        return A

    return patch


def logit_lens(model, ids):
    """Decode every residual stream with the final norm and unembedding (nostalgebraist 2020):
    ``unembed(ln_f(blocks.{i}.hook_resid_post))``, preceded by block 0's ``hook_resid_pre``.
    Returns ``(n_layers + 1, B, T, V)``.
    """
    validate.module(model)
    missing = [a for a in ("blocks", "ln_f", "unembed") if not hasattr(model, a)]
    if missing:
        raise ValueError(f"logit_lens: expected a transformer LM with blocks, ln_f and unembed, missing {missing}")
    names = ["blocks.0.hook_resid_pre"] + [f"blocks.{i}.hook_resid_post" for i in range(len(model.blocks))]
    _select(model, names)
    with _common.eval_mode(model), torch.no_grad():
        _, cache = run_with_cache(model, ids, names=names)
        return torch.stack([model.unembed(model.ln_f(cache[n])) for n in names])  # (n_layers + 1, B, T, V)


@dataclass
class ProbeResult:
    """A trained linear probe; ``weight (d, C)`` and ``bias (C,)`` act on features standardised with the
    training split's ``mean`` and ``std``."""
    train_accuracy: float
    test_accuracy: float
    weight: torch.Tensor
    bias: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    train_index: torch.Tensor
    test_index: torch.Tensor
    control_train_accuracy: float = None
    control_test_accuracy: float = None
    selectivity: float = None

    def predict(self, features):
        validate.tensor(features, "features", ndim=2, floating=True)
        validate.same_size(self.mean.shape[0], features.shape[1], "features: number of features fitted on")
        return (((features - self.mean) / self.std) @ self.weight + self.bias).argmax(-1)


def _fit_probe(X, y, n_classes, weight_decay, max_iter):
    W = torch.zeros(X.shape[1], n_classes, dtype=X.dtype, device=X.device, requires_grad=True)
    b = torch.zeros(n_classes, dtype=X.dtype, device=X.device, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(X @ W + b, y) + weight_decay * (W ** 2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return W.detach(), b.detach()


def linear_probe(features, labels, control_labels=None, *, test_fraction=0.25, weight_decay=1e-3, max_iter=200, seed=0):
    """Multinomial logistic regression from activations to labels, trained by L-BFGS on a seeded split
    (Alain & Bengio 2016, arXiv 1610.01644). With ``control_labels`` a second probe is fitted on the
    same split and ``selectivity`` = test accuracy - control test accuracy (Hewitt & Liang 2019,
    DOI 10.18653/v1/D19-1275).
    """
    validate.tensor(features, "features", ndim=2, floating=True)
    N = features.shape[0]
    if N < 2:
        raise ValueError(f"features: expected at least 2 samples to split into train and test, got {N}")
    if labels is None:
        raise TypeError("labels: expected a (N,) integer tensor of classes, got None")
    for name, lab in (("labels", labels), ("control_labels", control_labels)):
        if lab is not None:
            validate.tensor(lab, name, ndim=1, floating=False)
            validate.same_size(N, lab.shape[0], f"{name}: number of samples (rows of features)")
            if int(lab.min()) < 0:
                raise ValueError(f"{name}: expected class indices >= 0, got minimum {int(lab.min())}")
    test_fraction = validate.number(test_fraction, "test_fraction", above=0, maximum=1)
    if test_fraction == 1:
        raise ValueError("test_fraction: expected a number in (0, 1), got 1.0")
    weight_decay = validate.number(weight_decay, "weight_decay", minimum=0)
    validate.seed(seed)
    n_test = max(1, round(N * test_fraction))
    if N - n_test < 1:
        raise ValueError(f"features: expected at least 2 samples to split into train and test, got {N}")
    validate.positive_int(max_iter, "max_iter")
    # L-BFGS needs autograd, which torch.inference_mode() turns off; turning it back on is allowed.
    with torch.inference_mode(False):
        order = torch.randperm(N, generator=generator(seed)).to(features.device)
        train, test = order[n_test:], order[:n_test]
        features = usable(features)
        mean, std = features[train].mean(0), features[train].std(0, unbiased=False).clamp_min(1e-8)
        X = (features - mean) / std

        def fit(y):
            y = usable(y).to(features.device)
            W, b = _fit_probe(X[train], y[train], int(y.max()) + 1, weight_decay, max_iter)
            acc = lambda idx: float(((X[idx] @ W + b).argmax(-1) == y[idx]).double().mean())
            return acc(train), acc(test), W, b

        tr, te, W, b = fit(labels)
        result = ProbeResult(tr, te, W, b, mean, std, train, test)
        if control_labels is not None:
            result.control_train_accuracy, result.control_test_accuracy, _, _ = fit(control_labels)
            result.selectivity = selectivity(te, result.control_test_accuracy)
    return result


def control_task(tokens, labels=None, *, n_classes=None, seed=0):
    """Control labels: each word type gets one random label, drawn from the empirical label
    distribution of ``labels`` (or uniformly from ``n_classes``) (Hewitt & Liang 2019).

    ``tokens (N,)`` gives the word type of each example; returns ``(N,)`` labels.
    """
    validate.tensor(tokens, "tokens", ndim=1, floating=False)
    if tokens.numel() == 0:
        raise ValueError("tokens: expected at least one example, got none")
    g = generator(validate.seed(seed))
    types, inverse = tokens.cpu().unique(return_inverse=True)
    if labels is not None:
        validate.tensor(labels, "labels", ndim=1, floating=False)
        validate.same_size(tokens.shape[0], labels.shape[0], "labels: number of examples")
        if int(labels.min()) < 0:
            raise ValueError(f"labels: expected class indices >= 0, got minimum {int(labels.min())}")
        p = torch.bincount(labels.cpu()).double()
    elif n_classes is not None:
        p = torch.ones(validate.positive_int(n_classes, "n_classes"), dtype=torch.float64)
    else:
        raise ValueError("control_task: expected labels (for their distribution) or n_classes, got neither")
    per_type = torch.multinomial(p / p.sum(), types.numel(), replacement=True, generator=g)
    return per_type[inverse].to(tokens.device)


def selectivity(task_accuracy, control_accuracy):
    """Task accuracy minus control-task accuracy (Hewitt & Liang 2019): high when the probe
    reads the property from the representation rather than memorising word types."""
    for name, a in (("task_accuracy", task_accuracy), ("control_accuracy", control_accuracy)):
        if isinstance(a, bool) or not isinstance(a, (int, float)) or not 0 <= a <= 1:
            raise ValueError(f"{name}: expected an accuracy in [0, 1], got {a!r}")
    return task_accuracy - control_accuracy


def _patterns(model, ids):
    """Attention weights of every layer: ``(n_layers, B, n_heads, T, T)``."""
    found = sorted(((int(m.group(1)), n) for n in hook_names(model)
                    if (m := re.fullmatch(r"blocks\.(\d+)\.attn\.hook_pattern", n))))
    if not found:
        raise ValueError(f"expected hook points blocks.{{i}}.attn.hook_pattern, found none in {hook_names(model)}")
    with _common.eval_mode(model), torch.no_grad():
        _, cache = run_with_cache(model, ids, names=[n for _, n in found])
    return torch.stack([cache[n] for _, n in found])


def _random_tokens(model, n_sequences, seq_len, vocab_size, seed):
    """``(n_sequences, seq_len)`` ids from ``1..V-1`` (0 is padding), distinct within a sequence when possible."""
    validate.module(model)
    validate.positive_int(n_sequences, "n_sequences")
    validate.positive_int(seq_len, "seq_len", minimum=2)
    validate.seed(seed)
    if vocab_size is None:
        if not hasattr(model, "unembed"):
            raise ValueError("vocab_size: expected it given, or a model with unembed to read it from")
        vocab_size = model.unembed.out_features
    validate.positive_int(vocab_size, "vocab_size", minimum=2)
    if isinstance(getattr(model, "vocab_size", None), int) and vocab_size > model.vocab_size:
        raise ValueError(f"vocab_size: expected at most the model's vocab_size {model.vocab_size}, got {vocab_size}")
    g = generator(seed)
    if seq_len <= vocab_size - 1:
        return torch.stack([torch.randperm(vocab_size - 1, generator=g)[:seq_len] + 1 for _ in range(n_sequences)])
    return torch.randint(1, vocab_size, (n_sequences, seq_len), generator=g)


def _device(model):
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def induction_head_scores(model, seq_len=10, *, n_sequences=8, vocab_size=None, bos=None, seed=0, ids=None,
                          queries=None):
    """Mean attention from each token of the second copy of a repeated random sequence to the token
    after its first occurrence, per layer and head: ``(n_layers, n_heads)`` (Olsson et al. 2022,
    arXiv 2209.11895). ``bos`` prepends a start token.

    With ``ids`` ``(B, T)`` given, the repeats are read from the content instead: every
    position ``t`` whose token occurred before is a query, its key is the position after
    the most recent earlier occurrence, and the score is the mean over all such pairs (on
    ``[BOS, x, x]`` with distinct ``x`` this is the number the fixed layout gives). ``queries`` (bool, shaped
    like ``ids``) keeps only the queries it marks, e.g. the second copy of a planted repeat,
    leaving out tokens of random filler that repeat by chance.
    """
    if ids is None:
        r = _random_tokens(model, n_sequences, seq_len, vocab_size, seed)
        ids = torch.cat([r, r], 1)  # (n_sequences, 2 L)
        off = 0
        if bos is not None:
            ids = torch.cat([torch.full((n_sequences, 1), validate.positive_int(bos, "bos", minimum=0)), ids], 1)
            off = 1
        P = _patterns(model, ids.to(_device(model)))  # (n_layers, B, n_heads, T, T)
        q = torch.arange(seq_len) + seq_len + off  # the second copy; by layout, so repeats inside x do not count
        return P[:, :, :, q, q - seq_len + 1].mean((1, 3))
    validate.tensor(ids, "ids", ndim=2, floating=False)
    row, query, key = _induction_pairs(ids)
    if queries is not None:
        validate.tensor(queries, "queries", ndim=2)
        if queries.dtype != torch.bool or queries.shape != ids.shape:
            raise ValueError(f"queries: expected a bool mask of shape {tuple(ids.shape)}, "
                             f"got {queries.dtype} {tuple(queries.shape)}")
        keep = queries.to(ids.device)[row, query]
        row, query, key = row[keep], query[keep], key[keep]
    if len(row) == 0:
        raise ValueError(f"ids: expected some token to occur twice in a row, got none in shape {tuple(ids.shape)}")
    P = _patterns(model, ids)  # (n_layers, B, n_heads, T, T)
    return P[:, row, :, query, key].mean(0)  # advanced indices split by a slice put the pairs first


def _induction_pairs(ids):
    """``(row, query, key)`` index tensors: each repeated token and the position after its latest earlier copy."""
    T = ids.shape[1]
    pos = torch.arange(T, device=ids.device)
    earlier = (ids[:, :, None] == ids[:, None, :]) & (pos[None, :] < pos[:, None])  # (B, T, T): s < t, same token
    latest = torch.where(earlier, pos, -1).amax(dim=2)  # (B, T): -1 where the token is new
    row, query = (latest >= 0).nonzero(as_tuple=True)
    return row, query, latest[row, query] + 1


def previous_token_head_scores(model, ids=None, *, seq_len=10, n_sequences=8, vocab_size=None, seed=0):
    """Mean attention from each position ``t >= 1`` to ``t - 1``, per layer and head:
    ``(n_layers, n_heads)`` (Olsson et al. 2022, arXiv 2209.11895). Random tokens unless ``ids`` is given.
    """
    if ids is None:
        ids = _random_tokens(model, n_sequences, seq_len, vocab_size, seed).to(_device(model))
    validate.tensor(ids, "ids", ndim=2, floating=False)
    if ids.shape[1] < 2:
        raise ValueError(f"ids: expected at least 2 tokens per sequence, got shape {tuple(ids.shape)}")
    P = _patterns(model, ids)
    t = torch.arange(1, ids.shape[1])
    return P[:, :, :, t, t - 1].mean((1, 3))
