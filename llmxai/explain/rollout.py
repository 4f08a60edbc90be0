"""Attention-based explanations: raw maps, rollout, flow, and attention x gradient.

Read every ``...attn.hook_pattern`` (B, n_heads, T, T) of a Transformer. Attention weights
say where a head looks, not what the model relies on (Jain & Wallace 2019, NAACL,
DOI 10.18653/v1/N19-1357; Wiegreffe & Pinter 2019, EMNLP, DOI 10.18653/v1/D19-1002);
rollout and flow follow them through the layers, attention x gradient weighs them by effect.
"""

from collections import deque

import torch

from llmxai import validate
from llmxai.explain._inputs import Prepared, eval_mode
from llmxai.explain.targets import select_target
from llmxai.hooks import hook_names, hooks, run_with_cache

HEAD_FUSIONS = {"mean", "max", "min"}


def _pattern_names(model, names):
    if names is not None and (isinstance(names, str) or not isinstance(names, (list, tuple))
                              or not all(isinstance(n, str) for n in names)):
        raise TypeError(f"names: expected a list of hook-point names, got {names!r:.80}")
    names = [n for n in hook_names(model) if n.endswith("hook_pattern")] if names is None else list(names)
    if not names:
        raise ValueError(f"model: {type(model).__name__} has no hook points named '...hook_pattern'; "
                         f"its hook points are {hook_names(model)}")
    return names


def attention_maps(model, ids, *, names=None, **forward_kwargs):
    """Attention weights of every layer, stacked: ``(n_layers, B, n_heads, T, T)``."""
    validate.tensor(ids, "ids", ndim=2, floating=False)
    names = _pattern_names(model, names)
    validate.forward_kwargs(model.forward, forward_kwargs, "attention_maps", ("names",))
    with eval_mode(model), torch.no_grad():
        _, cache = run_with_cache(model, ids, names=names, **forward_kwargs)
    return torch.stack([cache[n] for n in names])


def _fused_options(head_fusion, residual):
    """Check the options before the (costly) forward pass."""
    validate.choice(head_fusion, "head_fusion", HEAD_FUSIONS)
    return validate.number(residual, "residual", minimum=0, maximum=1)


def _fused(maps, head_fusion, residual):
    """Heads fused, then ``(1 - residual) A + residual I`` with rows renormalised: (n_layers, B, T, T)."""
    residual = _fused_options(head_fusion, residual)
    A = {"mean": lambda m: m.mean(2), "max": lambda m: m.max(2).values, "min": lambda m: m.min(2).values}[
        head_fusion](maps)  # (n_layers, B, T, T)
    eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
    A = (1 - residual) * A + residual * eye
    # A fully masked query row (padding) sums to 0; leave it at 0 rather than divide by it.
    return A / A.sum(-1, keepdim=True).clamp_min(torch.finfo(A.dtype).tiny)


def attention_rollout(model, ids, *, head_fusion="mean", residual=0.5, **forward_kwargs):
    """Attention rollout ``R = A'_L ... A'_2 A'_1``: ``(B, T, T)``, row i = how output i mixes input tokens.

    Abnar & Zuidema 2020, "Quantifying attention flow in transformers", ACL, arXiv 2005.00928:
    the residual connection is modelled as ``A' = 0.5 A + 0.5 I`` (``residual=0.5``),
    rows renormalised, and the layers' matrices multiplied.
    """
    _fused_options(head_fusion, residual)
    A = _fused(attention_maps(model, ids, **forward_kwargs), head_fusion, residual)
    R = A[0]
    for layer in A[1:]:
        R = layer @ R  # (B, T, T)
    return R


def max_flow(capacity, source, sink):
    """Value of a maximum flow from ``source`` to ``sink`` (Edmonds & Karp 1972, DOI 10.1145/321694.321699).

    ``capacity`` is an (N, N) matrix, ``capacity[u, v]`` the capacity of edge u -> v. Augmenting
    paths are found by breadth-first search in the residual graph, shortest first.
    """
    try:
        cap = torch.as_tensor(capacity, dtype=torch.float64).cpu()
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"capacity: expected an (N, N) tensor or nested list of numbers, "
                        f"got {type(capacity).__name__}") from None
    validate.tensor(cap, "capacity", ndim=2)
    N = cap.shape[0]
    validate.same_size(N, cap.shape[1], "capacity: number of columns")
    if bool((cap < 0).any()):
        raise ValueError("capacity: expected non-negative capacities")
    for v, what in ((source, "source"), (sink, "sink")):
        validate.positive_int(v, what, minimum=0)
        if v >= N:
            raise ValueError(f"{what}: expected a node in [0, {N}), got {v}")
    if source == sink:
        raise ValueError(f"sink: expected a node that differs from the source {source}, got {sink}")
    residual = cap.tolist()
    tol = 1e-12 * (float(cap.max()) if N else 1.0)
    value = 0.0
    while True:
        parent = [-1] * N
        parent[source] = source
        queue = deque([source])
        while queue and parent[sink] < 0:
            u = queue.popleft()
            for v in range(N):
                if parent[v] < 0 and residual[u][v] > tol:
                    parent[v] = u
                    queue.append(v)
        if parent[sink] < 0:
            return value
        path, v = [], sink
        while v != source:
            path.append((parent[v], v))
            v = parent[v]
        push = min(residual[u][v] for u, v in path)
        for u, v in path:
            residual[u][v] -= push
            residual[v][u] += push
        value += push


def attention_flow(model, ids, *, head_fusion="mean", residual=0.5, **forward_kwargs):
    """Attention flow: ``(B, T, T)``, entry [b, i, j] = max flow from input token j to output position i.

    Abnar & Zuidema 2020 (arXiv 2005.00928): a layered graph with one node per
    (layer, position) and edge capacities ``A'_l[i, j]`` from position j below to i above.
    It costs T^2 max-flow problems on (n_layers + 1) T nodes: meant for short sequences.
    """
    _fused_options(head_fusion, residual)
    maps = attention_maps(model, ids, **forward_kwargs)
    A = _fused(maps, head_fusion, residual).double().cpu()
    L, B, T, _ = A.shape
    N = (L + 1) * T
    flow = torch.zeros(B, T, T, dtype=torch.float64)
    for b in range(B):
        cap = torch.zeros(N, N, dtype=torch.float64)
        for layer in range(L):
            below, above = layer * T, (layer + 1) * T
            cap[below:below + T, above:above + T] = A[layer, b].T  # edge j -> i carries A'[i, j]
        for i in range(T):
            for j in range(T):
                flow[b, i, j] = max_flow(cap, j, L * T + i)
    return flow.to(device=maps.device, dtype=maps.dtype)


def attention_x_gradient(model, ids, target, *, names=None, **forward_kwargs):
    """Attention weights times the target's gradient with respect to them: ``(n_layers, B, n_heads, T, T)``.

    ``A * dy/dA`` per layer and head, the attention-weight analogue of gradient x input; Chefer,
    Gur & Wolf 2021 ("Generic attention-model explainability", ICCV, arXiv 2103.15679) keep its
    positive part and average it over heads before rolling it out.
    """
    validate.tensor(ids, "ids", ndim=2, floating=False)
    names = _pattern_names(model, names)
    patterns = {}
    with eval_mode(model):
        p = Prepared(model, ids, forward_kwargs, attention_x_gradient)
        record = {n: (lambda n: lambda a: patterns.__setitem__(n, a))(n) for n in names}
        with torch.enable_grad(), hooks(model, record):
            # Differentiating through the embeddings keeps the patterns in the graph even if
            # the model's parameters are frozen.
            y = select_target(p.forward(p.x.requires_grad_(True)), target)
            maps = [patterns[n] for n in names]
            grads = torch.autograd.grad(y.sum(), maps, allow_unused=True)
    return torch.stack([(a * g if g is not None else torch.zeros_like(a)).detach() for a, g in zip(maps, grads)])
