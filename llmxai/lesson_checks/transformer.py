"""Lesson 7 (the Transformer): LayerNorm from its definition, a pre-LN residual block from its
parts, and the next-token loss of a causal language model."""

import torch

from llmxai.device import generator
from llmxai.lesson_checks.common import _what, check_own_work, close, finite, passed, run, tensor_of_shape
from llmxai.nn import GPT, LayerNorm, TransformerBlock

_NORMS = ("layer_norm", "LayerNorm", "native_layer_norm", "group_norm", "GroupNorm", "batch_norm", "instance_norm",
          "rms_norm", "normalize")
_LOSSES = ("cross_entropy", "nll_loss", "CrossEntropyLoss", "NLLLoss", "mean_loss", "half_losses")


def _ln(x, w, b, eps, *, unbiased=False, dim=-1, eps_outside=False, affine=True, var_only=False):
    mu = x.mean(dim, keepdim=True)
    var = x.var(dim, keepdim=True, unbiased=unbiased)
    scale = var + eps if var_only else (var.sqrt() + eps if eps_outside else (var + eps).sqrt())
    y = (x - mu) / scale
    return y * w + b if affine else y


def check_layer_norm(layer_norm, seed=0):
    """Check ``layer_norm(x (..., d), weight (d,), bias (d,), eps) -> (..., d)``: each vector normalised over
    its ``d`` features with the biased variance, ``(x - mu) / sqrt(var + eps) * weight + bias``."""
    check_own_work(layer_norm, forbidden=_NORMS, library=(LayerNorm,), exercise="layer_norm")
    g = generator(seed)
    B, T, d = 2, 5, 6
    # Small features make eps matter; rows at different scales separate the variance mistakes.
    x = torch.randn(B, T, d, generator=g, dtype=torch.float64) * torch.tensor([0.05, 1.0, 3.0, 0.3, 2.0])[:, None]
    x = x + torch.randn(B, T, 1, generator=g, dtype=torch.float64)
    w = 1 + 0.5 * torch.randn(d, generator=g, dtype=torch.float64)
    b = 0.3 * torch.randn(d, generator=g, dtype=torch.float64)
    eps = 0.01
    got = run(layer_norm, x.clone(), w.clone(), b.clone(), eps)
    tensor_of_shape(got, x.shape, "the normalised tensor (same shape as x)")
    if not finite(got):
        raise AssertionError("NaN or inf: add eps to the variance before the square root")
    mistakes = [
        (dict(unbiased=True), "you divided the variance by d - 1 (torch.var's default): LayerNorm uses the biased "
                              "variance, the mean of (x - mu)**2, i.e. unbiased=False"),
        (dict(dim=1), "normalised over the wrong axis: each token is normalised over its own d features (dim=-1), "
                      "not across tokens or the batch"),
        (dict(dim=0), "normalised over the batch axis: that is batch norm; LayerNorm uses the last axis (dim=-1)"),
        (dict(eps_outside=True), "eps goes inside the square root: sqrt(var + eps), not sqrt(var) + eps"),
        (dict(affine=False), "weight and bias are missing: multiply by weight and add bias after normalising"),
        (dict(var_only=True), "you divided by the variance: divide by the standard deviation sqrt(var + eps)"),
    ]
    for switches, hint in mistakes:
        if close(got, _ln(x, w, b, eps, **switches)):
            raise AssertionError(hint)
    if close(got, _ln(x, w, b, 1e-5)):
        raise AssertionError("use the eps you are given, not a fixed 1e-5")
    if not close(got, _ln(x, w, b, eps)):
        raise AssertionError("values differ from (x - mean) / sqrt(var + eps) * weight + bias over the last axis")
    return passed("layer_norm")


def _parts(seed):
    """Deterministic stand-ins for a block's sub-layers (attention mixes positions, causally)."""
    g = generator(seed)
    B, T, d = 2, 5, 4
    x = torch.randn(B, T, d, generator=g, dtype=torch.float64)
    A = torch.randn(d, d, generator=g, dtype=torch.float64) * 0.5
    M1 = torch.randn(d, 3 * d, generator=g, dtype=torch.float64) * 0.5
    M2 = torch.randn(3 * d, d, generator=g, dtype=torch.float64) * 0.5
    avg = torch.tril(torch.ones(T, T, dtype=torch.float64))
    avg = avg / avg.sum(-1, keepdim=True)  # (T, T): mean over the positions so far

    def attn(h):
        return avg @ torch.tanh(h @ A)

    def mlp(h):
        return torch.relu(h @ M1) @ M2

    def ln1(h):
        return (h - h.mean(-1, keepdim=True)) / (h.var(-1, keepdim=True, unbiased=False) + 1e-5).sqrt() * 1.5 + 0.1

    def ln2(h):
        return (h - h.mean(-1, keepdim=True)) / (h.var(-1, keepdim=True, unbiased=False) + 1e-5).sqrt() * 0.7 - 0.2

    return x, attn, mlp, ln1, ln2


def _block(x, attn, mlp, ln1, ln2, kind="pre"):
    if kind == "pre":
        mid = x + attn(ln1(x))
        return mid + mlp(ln2(mid))
    if kind == "post":
        mid = ln1(x + attn(x))
        return ln2(mid + mlp(mid))
    if kind == "parallel":
        return x + attn(ln1(x)) + mlp(ln2(x))
    if kind == "no residual":
        return mlp(ln2(attn(ln1(x))))
    if kind == "normed residual":
        h = ln1(x)
        mid = h + attn(h)
        h2 = ln2(mid)
        return h2 + mlp(h2)
    if kind == "one norm":
        mid = x + attn(ln1(x))
        return mid + mlp(ln1(mid))
    if kind == "no mlp residual":
        return mlp(ln2(x + attn(ln1(x))))
    raise ValueError(kind)


def check_pre_norm_block(pre_norm_block, seed=0):
    """Check ``pre_norm_block(x (B, T, d), attn, mlp, ln1, ln2) -> (B, T, d)``:
    ``x_mid = x + attn(ln1(x))``, ``x_out = x_mid + mlp(ln2(x_mid))``; the four sub-layers are functions."""
    check_own_work(pre_norm_block, forbidden=("TransformerBlock", "TransformerEncoderLayer"),
                   library=(TransformerBlock,), exercise="pre_norm_block")
    x, attn, mlp, ln1, ln2 = _parts(seed)
    got = run(pre_norm_block, x.clone(), attn, mlp, ln1, ln2)
    if isinstance(got, tuple):
        raise AssertionError("return one tensor, x_out (B, T, d)")
    tensor_of_shape(got, x.shape, "x_out (B, T, d)")
    hints = {
        "post": "that is the original post-LN block, LN(x + attn(x)): in a pre-LN block the norm comes BEFORE each "
                "sub-layer and the residual adds the sub-layer's output to the un-normalised x",
        "parallel": "the MLP reads x: it must read x_mid = x + attn(ln1(x)), after attention has written to the stream",
        "no residual": "the residual connections are missing: x_mid = x + attn(ln1(x)), "
                       "x_out = x_mid + mlp(ln2(x_mid))",
        "normed residual": "the residual carries the normalised vector: add attn's output to x itself, not to ln1(x)",
        "one norm": "ln1 used twice: the MLP has its own norm, ln2",
        "no mlp residual": "the second residual is missing: x_out = x_mid + mlp(ln2(x_mid))",
    }
    for kind, hint in hints.items():
        if close(got, _block(x, attn, mlp, ln1, ln2, kind)):
            raise AssertionError(hint)
    if not close(got, _block(x, attn, mlp, ln1, ln2)):
        raise AssertionError("x_out differs from x_mid + mlp(ln2(x_mid)) with x_mid = x + attn(ln1(x))")
    return passed("pre_norm_block")


def _lm_loss(logits, ids, *, shift=1, reduce="mean"):
    logp = logits - logits.logsumexp(-1, keepdim=True)
    if shift == 1:
        lp, y = logp[:, :-1], ids[:, 1:]
    elif shift == 0:
        lp, y = logp, ids
    else:  # the wrong way round
        lp, y = logp[:, 1:], ids[:, :-1]
    nll = -lp.gather(-1, y[..., None])[..., 0]
    return {"mean": nll.mean(), "sum": nll.sum(), "rows": nll.sum(1).mean()}[reduce]


def check_causal_lm_loss(causal_lm_loss, seed=0):
    """Check ``causal_lm_loss(logits (B, T, V), ids (B, T)) -> scalar``: the mean over every prediction of
    ``-log softmax(logits[:, t])[ids[:, t + 1]]``, ``t = 0 .. T - 2``."""
    check_own_work(causal_lm_loss, forbidden=_LOSSES, library=(GPT,), exercise="causal_lm_loss")
    g = generator(seed)
    B, T, V = 3, 6, 7
    logits = torch.randn(B, T, V, generator=g, dtype=torch.float64) * 2
    ids = torch.randint(0, V, (B, T), generator=g)
    got = run(causal_lm_loss, logits.clone(), ids.clone())
    if isinstance(got, torch.Tensor) and got.numel() > 1:
        raise AssertionError(f"expected one number, the mean loss, got {_what(got)}: average over every prediction")
    try:
        value = torch.as_tensor(float(got), dtype=torch.float64)
    except (TypeError, ValueError):
        raise AssertionError(f"expected one number, the mean loss, got {_what(got)}") from None
    if not bool(torch.isfinite(value)):
        raise AssertionError("NaN or inf: use log-softmax (logits minus their logsumexp), not log of a softmax")
    if close(value, -_lm_loss(logits, ids)):
        raise AssertionError("sign: the loss is the NEGATIVE log-probability of the next token")
    hints = [
        (dict(shift=0), "not shifted: logits at position t predict the token at t + 1, so compare logits[:, :-1] with "
                        "ids[:, 1:]. Unshifted, a model can simply copy its input"),
        (dict(shift=-1), "shifted the wrong way: logits[:, :-1] go with ids[:, 1:] (position t predicts t + 1)"),
        (dict(reduce="sum"), "you summed: return the MEAN over all B * (T - 1) predictions"),
        (dict(reduce="rows"), "you summed over positions: return the mean over every prediction, positions included"),
    ]
    for switches, hint in hints:
        if close(value, _lm_loss(logits, ids, **switches)):
            raise AssertionError(hint)
    if close(value, (-(logits[:, :-1].gather(-1, ids[:, 1:, None]))).mean()):
        raise AssertionError("you used the raw logit: take the log-softmax over the vocabulary first")
    if not close(value, _lm_loss(logits, ids)):
        raise AssertionError("value differs from the mean of -log softmax(logits[:, :-1])[ids[:, 1:]]")
    return passed("causal_lm_loss")
