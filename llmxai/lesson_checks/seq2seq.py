"""Lesson 6 (attention and sequence-to-sequence): additive scores of a decoder state against the
encoder states, the masked softmax and context over the input positions, and the shifted pair of
decoder inputs and targets that teacher forcing trains on."""

import torch

from llmxai.data.induction import next_token_batch
from llmxai.device import generator
from llmxai.lesson_checks.common import _what, check_own_work, close, finite, passed, run, tensor_of_shape
from llmxai.nn import AdditiveAttention, masked_softmax

_READY = ("AdditiveAttention", "project_keys", "masked_softmax", "scaled_dot_product_attention",
          "greedy_decode", "step", "attn")


def _additive(s, H, W_s, W_h, v, *, act=torch.tanh, outside=False, use_query=True, use_v=True):
    z = ((s @ W_s.T)[:, None] if use_query else 0.0) + H @ W_h.T  # (B, T, d_a)
    if outside:
        return act(z @ v)
    z = act(z)
    return z @ v if use_v else z.sum(-1)  # (B, T)


def check_additive_scores(additive_scores, seed=0):
    """Check ``additive_scores(s (B, d_q), H (B, T, d_k), W_s (d_a, d_q), W_h (d_a, d_k), v (d_a,)) -> (B, T)``:
    ``e_j = v^T tanh(W_s s + W_h h_j)`` for every input position ``j``."""
    check_own_work(additive_scores, forbidden=_READY, library=(AdditiveAttention,), exercise="additive_scores")
    g = generator(seed)
    B, T, d_q, d_k, d_a = 3, 6, 5, 4, 7
    s = torch.randn(B, d_q, generator=g, dtype=torch.float64)
    H = torch.randn(B, T, d_k, generator=g, dtype=torch.float64)
    W_s = torch.randn(d_a, d_q, generator=g, dtype=torch.float64) * 0.7
    W_h = torch.randn(d_a, d_k, generator=g, dtype=torch.float64) * 0.7
    v = torch.randn(d_a, generator=g, dtype=torch.float64)
    got = run(additive_scores, s.clone(), H.clone(), W_s.clone(), W_h.clone(), v.clone())
    want = _additive(s, H, W_s, W_h, v)
    if isinstance(got, tuple):
        raise AssertionError("return one tensor, the scores e (B, T_src); the weights come in the next exercise")
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (B, T, d_a):
        raise AssertionError("(B, T_src, d_attn): take the product with v, one score per input position")
    tensor_of_shape(got, (B, T), "the scores (B, T_src)")
    if close(got, torch.softmax(want, dim=-1)):
        raise AssertionError("those are the softmax weights: return the raw scores e; the softmax is the next step")
    mistakes = [
        (dict(act=lambda z: z), "no tanh: e_j = v^T tanh(W_s s + W_h h_j); without it the score is linear"),
        (dict(outside=True), "the tanh goes inside, on the (d_attn,) vector W_s s + W_h h_j, before the "
                              "product with v"),
        (dict(use_query=False), "the query is missing: every score must depend on the decoder state s through W_s s"),
        (dict(use_v=False), "you summed the tanh features: the score is their product with the learned vector v"),
    ]
    for switches, hint in mistakes:
        if close(got, _additive(s, H, W_s, W_h, v, **switches)):
            raise AssertionError(hint)
    if not close(got, want):
        raise AssertionError("scores differ from e = tanh((s @ W_s.T)[:, None] + H @ W_h.T) @ v")
    return passed("additive_scores")


def _attend(e, H, mask, *, use_mask=True, invert=False, axis=-1, renorm=True, after=False):
    m = ~mask if invert else mask
    if after:
        w = torch.softmax(e, dim=-1) * m
        w = w / w.sum(-1, keepdim=True) if renorm else w
    else:
        w = torch.softmax(e.masked_fill(~m, float("-inf")) if use_mask else e, dim=axis)
    return (w[:, :, None] * H).sum(1), w


def check_attend(attend, seed=0):
    """Check ``attend(e (B, T), H (B, T, d_k), mask (B, T) bool, True = real) -> (context (B, d_k), weights (B, T))``:
    softmax over the real input positions (padding gets exactly 0), then ``c = sum_j alpha_j h_j``."""
    check_own_work(attend, forbidden=_READY, library=(AdditiveAttention, masked_softmax), exercise="attend")
    g = generator(seed)
    B, T, d_k = 4, 6, 3
    e = torch.randn(B, T, generator=g, dtype=torch.float64) * 2
    H = torch.randn(B, T, d_k, generator=g, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4, 5])[torch.randperm(B, generator=g)]
    mask = torch.arange(T)[None] < lengths[:, None]
    got = run(attend, e.clone(), H.clone(), mask.clone())
    if not (isinstance(got, tuple) and len(got) == 2):
        raise AssertionError(f"return the pair (context, weights), got {_what(got)}")
    ctx, w = got
    want_ctx, want_w = _attend(e, H, mask)
    if isinstance(ctx, torch.Tensor) and tuple(ctx.shape) == (B, T) and isinstance(w, torch.Tensor) \
            and tuple(w.shape) == (B, d_k):
        raise AssertionError("the pair is swapped: return (context, weights)")
    tensor_of_shape(w, (B, T), "the weights (B, T_src)")
    tensor_of_shape(ctx, (B, d_k), "the context (B, d_k)")
    wn = torch.nan_to_num(w.detach().double())
    if bool((wn[~mask].abs() > 1e-9).any()) and bool((wn[mask].abs() < 1e-12).any()):
        raise AssertionError("the mask is inverted: True marks a REAL character, so block the positions where "
                             "mask is False")
    if not finite(w):
        raise AssertionError("NaN in the weights: mask with -inf before the softmax only where mask is False; "
                             "every row keeps at least one real position")
    if close(w, _attend(e, H, mask, use_mask=False)[1]):
        raise AssertionError("the padding gets weight: set the scores of padded positions (mask False) to -inf "
                             "before the softmax")
    if close(w, _attend(e, H, mask, after=True, renorm=False)[1]):
        raise AssertionError("zeroing the padding after the softmax leaves rows that do not sum to 1: mask the "
                             "scores with -inf before the softmax")
    if close(w, _attend(e, H, mask, axis=0)[1]):
        raise AssertionError("softmax over the batch axis: each row's weights run over its input positions (dim=-1)")
    if not close(w, want_w):
        raise AssertionError("weights differ from the softmax over the real input positions of each row")
    if close(ctx, (w[:, :, None] * H).mean(1)):
        raise AssertionError("you averaged alpha_j h_j over positions: the context is their SUM, c = sum_j alpha_j h_j")
    if close(ctx, H.sum(1)) or close(ctx, H.mean(1)):
        raise AssertionError("the context ignores the weights: c = sum_j alpha_j h_j")
    if not close(ctx, want_ctx):
        raise AssertionError("context differs from sum_j alpha_j h_j, i.e. (weights[:, :, None] * H).sum(1)")
    return passed("attend")


def check_teacher_forcing(teacher_forcing, seed=0):
    """Check ``teacher_forcing(tgt (B, T)) -> (decoder inputs, targets)``: ``tgt[:, :-1]`` and ``tgt[:, 1:]``,
    for rows ``<bos> y_1 .. y_n <eos>``."""
    check_own_work(teacher_forcing, forbidden=("next_token_batch", "next_token_windows"), library=(next_token_batch,),
                   exercise="teacher_forcing")
    g = generator(seed)
    B, n, bos, eos = 3, 7, 2, 3
    tgt = torch.cat([torch.full((B, 1), bos), torch.randint(4, 20, (B, n), generator=g), torch.full((B, 1), eos)], 1)
    got = run(teacher_forcing, tgt.clone())
    if not (isinstance(got, tuple) and len(got) == 2):
        raise AssertionError(f"return the pair (decoder inputs, targets), got {_what(got)}")
    inp, out = got
    for t, what in ((inp, "decoder inputs"), (out, "targets")):
        if not isinstance(t, torch.Tensor) or t.is_floating_point():
            raise AssertionError(f"{what}: expected a tensor of token ids, got {_what(t)}")
    if torch.equal(inp, tgt) and torch.equal(out, tgt):
        raise AssertionError("not shifted: with inputs equal to targets the decoder learns to copy the token it is "
                             "given. Inputs are tgt[:, :-1], targets tgt[:, 1:]")
    if tuple(inp.shape) != tuple(out.shape):
        raise AssertionError(f"inputs {tuple(inp.shape)} and targets {tuple(out.shape)} must have the same length: "
                             "one target per decoder input")
    if tuple(inp.shape) != (B, n + 1):
        raise AssertionError(f"expected both of shape (B, T - 1) = {(B, n + 1)}, got {tuple(inp.shape)}")
    if torch.equal(inp, tgt[:, 1:]) and torch.equal(out, tgt[:, :-1]):
        raise AssertionError("shifted the wrong way: the decoder reads <bos> first and must predict y_1, so inputs "
                             "are tgt[:, :-1] and targets tgt[:, 1:]")
    if torch.equal(inp, out):
        raise AssertionError("inputs equal targets: the target at step t is the token AFTER the input at step t")
    if not (torch.equal(inp, tgt[:, :-1]) and torch.equal(out, tgt[:, 1:])):
        raise AssertionError("expected inputs tgt[:, :-1] (starting with <bos>) and targets tgt[:, 1:] (ending with "
                             "<eos>)")
    return passed("teacher_forcing")
