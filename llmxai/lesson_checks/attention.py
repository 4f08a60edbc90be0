"""Lesson 1 (attention), beyond ``llmxai.checks.check_softmax`` / ``check_attention``: causal attention."""

import math

import torch

from llmxai.device import generator
from llmxai.lesson_checks.common import close, finite, passed, run, tensor_of_shape
from llmxai.nn.attention import causal_mask, scaled_dot_product_attention


def check_causal_attention(causal_attention, seed=0):
    """Check ``causal_attention(q, k, v) -> (output, weights)``: query ``t`` sees keys ``0..t`` only."""
    g = generator(seed)
    B, T, d, d_v = 2, 5, 4, 3
    q, k, v = (torch.randn(B, T, n, generator=g, dtype=torch.float64) for n in (d, d, d_v))
    result = run(causal_attention, q.clone(), k.clone(), v.clone())
    if not (isinstance(result, tuple) and len(result) == 2):
        raise AssertionError("return a pair (output, weights)")
    out, w = result
    tensor_of_shape(w, (B, T, T), "weights (B, T, T): one row per query, one column per key")
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)  # (B, T, T)
    allowed = causal_mask(T)
    want_out, want_w = scaled_dot_product_attention(q, k, v, mask=allowed)
    if close(w, torch.softmax(scores, -1)):
        raise AssertionError("no mask: query t must not see keys after t; set the scores above the diagonal "
                             "to -inf before the softmax")
    if close(w, torch.softmax(scores.masked_fill(allowed, float("-inf")), -1), 1e-6) or \
            close(w, torch.softmax(scores.masked_fill(~allowed.T, float("-inf")), -1)) or \
            (finite(w) and bool((w.detach()[:, ~allowed.T] == 0).all()) and not close(w, want_w)):
        raise AssertionError("the mask points the wrong way: query t may see keys 0..t, the lower triangle "
                             "(torch.tril), and not the future")
    if close(w, torch.softmax(scores, -1) * allowed):
        raise AssertionError("you masked after the softmax: the rows no longer sum to 1. Set the masked "
                             "scores to -inf BEFORE the softmax")
    if close(w, torch.softmax(scores.masked_fill(~allowed, 0.0), -1)):
        raise AssertionError("a masked score of 0 still gets weight exp(0): set masked scores to -inf")
    if close(w, scaled_dot_product_attention(q, k, v, mask=allowed, scale=1.0)[1]):
        raise AssertionError("is the scaling missing? divide the scores by sqrt(d_k)")
    if not close(w, want_w):
        raise AssertionError("weights differ from softmax(mask(Q K^T / sqrt(d_k))) over the keys, with -inf "
                             "above the diagonal")
    tensor_of_shape(out, (B, T, d_v), "output (B, T, d_v): weights @ V")
    if not close(out, want_out):
        raise AssertionError("output differs: multiply the weights by V")
    return passed("causal attention")
