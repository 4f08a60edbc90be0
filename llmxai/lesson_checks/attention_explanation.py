"""Lesson 15 (attention as explanation): attention rollout as a product of residual-mixed
matrices, the capacity matrix of attention flow's layered graph, and uniform causal attention
(Wiegreffe and Pinter's baseline) to patch into a trained model."""

import torch

from llmxai.device import generator
from llmxai.explain import attention_flow, attention_maps, attention_rollout, max_flow
from llmxai.lesson_checks.common import _what, check_own_work, close, passed, run, tensor_of_shape

_LIBRARY = (attention_rollout, attention_flow, attention_maps, max_flow)
_READY = ("attention_rollout", "attention_flow", "attention_maps", "max_flow", "maximum_flow", "maximum_flow_value")


def _stochastic(n_layers, T, g, causal=False):
    """Random attention matrices ``(n_layers, T, T)`` whose rows sum to 1 (float64)."""
    s = torch.randn(n_layers, T, T, generator=g, dtype=torch.float64) * 1.5
    if causal:
        s = s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
    return s.softmax(-1)


def _rollout(A, *, residual=0.5, reverse=False, transpose=False, normalise=True):
    T = A.shape[-1]
    eye = torch.eye(T, dtype=A.dtype)
    R = eye
    for layer in A:
        M = (1 - residual) * layer + residual * eye if normalise else layer + eye
        M = M.T if transpose else M
        R = R @ M if reverse else M @ R
    return R


def check_rollout_product(rollout, seed=0):
    """Check ``rollout(A (n_layers, T, T)) -> (T, T)``: ``A'_L ... A'_1`` with ``A' = 0.5 A + 0.5 I``."""
    check_own_work(rollout, forbidden=_READY, library=_LIBRARY, exercise="rollout")
    g = generator(seed)
    L, T = 4, 5
    A = _stochastic(L, T, g)
    got = run(rollout, A.clone())
    tensor_of_shape(got, (T, T), "the rollout (T, T)")
    if close(got, A[-1]) or close(got, 0.5 * A[-1] + 0.5 * torch.eye(T, dtype=A.dtype)):
        raise AssertionError("you returned the last layer only: multiply the matrices of ALL layers")
    mistakes = [
        (dict(residual=0.0), "the residual is missing: each layer mixes A' = 0.5 * A + 0.5 * I, not A alone"),
        (dict(reverse=True), "wrong order: the last layer's matrix goes on the LEFT, R = A'_L @ ... @ A'_1 "
                             "(a later layer mixes what the earlier ones produced)"),
        (dict(normalise=False), "rows must sum to 1: use 0.5 * A + 0.5 * I (A + I has rows summing to 2, "
                                "and the product grows like 2^L)"),
        (dict(transpose=True), "transposed: row i of A is query i's weights over the keys; do not transpose"),
        (dict(reverse=True, transpose=True), "you computed the transpose of the rollout: rows are output positions"),
    ]
    for switches, hint in mistakes:
        if close(got, _rollout(A, **switches)):
            raise AssertionError(hint)
    if not close(got, _rollout(A)):
        raise AssertionError("values differ from R = A'_L @ ... @ A'_1 with A'_l = 0.5 * A_l + 0.5 * I")
    return passed("rollout")


def _capacity(A, *, transpose=True, offset=1, both=False, with_input=True):
    L, T, _ = A.shape
    N = (L + 1) * T if with_input else L * T
    cap = torch.zeros(N, N, dtype=A.dtype)
    for layer in range(L if with_input else L - 1):
        below, above = layer * T, (layer + offset) * T
        block = A[layer].T if transpose else A[layer]
        cap[below:below + T, above:above + T] = block
        if both:
            cap[above:above + T, below:below + T] = block.T
    return cap


def check_flow_capacity(flow_capacity, seed=0):
    """Check ``flow_capacity(A (n_layers, T, T)) -> (N, N)``, ``N = (n_layers + 1) T``: node ``l T + i`` is
    position i after l layers (l = 0: the input), ``cap[l T + j, (l + 1) T + i] = A[l, i, j]``, else 0."""
    check_own_work(flow_capacity, forbidden=_READY, library=_LIBRARY, exercise="flow_capacity")
    g = generator(seed)
    L, T = 3, 4
    A = _stochastic(L, T, g, causal=True)
    A = 0.5 * A + 0.5 * torch.eye(T, dtype=A.dtype)
    got = run(flow_capacity, A.clone())
    N = (L + 1) * T
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (L * T, L * T):
        raise AssertionError(f"({L * T}, {L * T}): the graph needs a row of input nodes below the first layer, "
                             f"(n_layers + 1) * T = {N} nodes in all")
    tensor_of_shape(got, (N, N), f"the capacity matrix (N, N) with N = (n_layers + 1) * T = {N}")
    want = _capacity(A)
    if close(got, _capacity(A, transpose=False)):
        raise AssertionError("transposed blocks: the edge from key j below to query i above carries A[l, i, j], "
                             "so cap[below + j, above + i] = A[l, i, j], i.e. the block is A[l].T")
    if close(got, _capacity(A, both=True)) or close(got, _capacity(A, transpose=False, both=True)):
        raise AssertionError("edges point upwards only: information flows from layer l to layer l + 1, "
                             "so the blocks below the diagonal stay 0")
    if close(got, _capacity(A, offset=0)) or close(got, _capacity(A, offset=0, transpose=False)):
        raise AssertionError("the blocks are on the diagonal: an edge connects layer l's nodes to layer l + 1's, "
                             "rows l*T.. and columns (l+1)*T..")
    if close(got, _capacity(A.flip(0))):
        raise AssertionError("the layers are in reverse order: the first layer's matrix connects the input "
                             "nodes (0..T-1) to the nodes T..2T-1")
    if not close(got, want):
        raise AssertionError("values differ from cap[l*T + j, (l+1)*T + i] = A[l, i, j] (0 elsewhere)")
    return passed("flow_capacity")


def check_uniform_attention(uniform_attention, seed=0):
    """Check ``uniform_attention(pattern (B, H, T, T)) -> (B, H, T, T)``: query i weighs each of the
    causal mask's allowed keys 0..i by ``1 / (i + 1)`` and the later keys by 0."""
    check_own_work(uniform_attention, forbidden=_READY, library=_LIBRARY, exercise="uniform_attention")
    g = generator(seed)
    B, H, T = 2, 3, 6
    pattern = _stochastic(B * H, T, g, causal=True).reshape(B, H, T, T)
    got = run(uniform_attention, pattern.clone())
    allowed = torch.ones(T, T, dtype=pattern.dtype).tril()
    want = (allowed / allowed.sum(-1, keepdim=True)).expand(B, H, T, T)
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (T, T) and close(got, want[0, 0]):
        raise AssertionError(f"a ({T}, {T}) matrix: the hook must return the pattern's shape (B, H, T, T); "
                             "expand it (or build it with zeros_like / ones_like of the pattern)")
    tensor_of_shape(got, (B, H, T, T), "the uniform pattern (B, H, T, T)")
    if close(got, torch.full_like(pattern, 1 / T)):
        raise AssertionError("1/T everywhere lets a token attend to later tokens: respect the causal mask, "
                             "row i weighs only keys 0..i")
    if close(got, allowed.expand(B, H, T, T)):
        raise AssertionError("rows must sum to 1: divide row i by its number of allowed keys, i + 1")
    if close(got, (allowed / T).expand(B, H, T, T)):
        raise AssertionError("divide by the number of ALLOWED keys of each row, i + 1, not by T: "
                             "rows must sum to 1")
    rows = torch.arange(T, dtype=pattern.dtype)[:, None].clamp_min(1)
    if close(got, (allowed / rows).expand(B, H, T, T)):
        raise AssertionError("off by one: row i has i + 1 allowed keys (0..i), so each weight is 1 / (i + 1)")
    if close(got, pattern):
        raise AssertionError("you returned the pattern unchanged: replace it with uniform weights")
    if not close(got, want):
        raise AssertionError(f"values differ from 1 / (i + 1) on keys j <= i and 0 on j > i; got {_what(got)}")
    return passed("uniform_attention")
