"""LRP written literally, one layer at a time, in matrix form (what the chapter teaches).

For a Linear layer the contributions z_ij = a_i w_ij form a matrix (B, in, out) and
each rule redistributes R_j over its column (Montavon et al. 2019, sec. 10.2.1).
A convolution is the same rule applied to every patch of an explicit unfold (im2col)
matrix, folded back afterwards. Slow and memory-hungry on purpose: every z_ij exists.
"""

import torch
import torch.nn.functional as F
from torch import nn

from llmxai import validate
from llmxai.explain._inputs import Prepared, eval_mode
from llmxai.explain.lrp._common import ACTIVATIONS, SHAPE_ONLY
from llmxai.explain.lrp.rules import (PASS, AlphaBeta, Epsilon, Flat, Gamma, Rule, ZBox, Zero,
                                      check_rule_map, lookup, make_rule, safe_divide, stabilize)
from llmxai.explain.targets import select_target


def linear_relevance(a, weight, bias, R, rule, low=None, high=None, real=None):
    """R_i = sum_j z_ij / stab(z_j) R_j for a (N, in), weight (out, in), R (N, out) -> (N, in).

    ``low``/``high`` (N, in) are the z^B bounds; ``real`` (N, in) marks true inputs
    (not padding) for the flat rule.
    """
    validate.tensor(a, "a", ndim=2, floating=True)
    validate.tensor(weight, "weight", ndim=2, floating=True)
    validate.tensor(R, "R", ndim=2, floating=True)
    validate.same_size(weight.shape[1], a.shape[1], "a: input features of weight (out, in)")
    validate.same_size((a.shape[0], weight.shape[0]), tuple(R.shape), "R: shape (N, out)")
    if bias is not None:
        validate.tensor(bias, "bias", ndim=1, floating=True)
        validate.same_size(weight.shape[0], bias.shape[0], "bias: size (out,) of weight (out, in)")
    if not isinstance(rule, Rule):
        raise TypeError(f"rule: expected a Rule object (Epsilon(), Gamma(), ...), got {rule!r}")
    W = weight.T[None]  # (1, in, out)
    if isinstance(rule, (Zero, Epsilon, Gamma)):
        if isinstance(rule, Gamma):
            W = W + rule.gamma * W.clamp(min=0)
            bias = None if bias is None else bias + rule.gamma * bias.clamp(min=0)
        Z = a[:, :, None] * W  # (N, in, out)
        z = Z.sum(1) + (0 if bias is None else bias)  # (N, out)
        return (Z * safe_divide(R, stabilize(z, rule.epsilon))[:, None]).sum(2)
    if isinstance(rule, AlphaBeta):
        Z = a[:, :, None] * W
        Zp, Zn = Z.clamp(min=0), Z.clamp(max=0)
        share_p = Zp * safe_divide(R, stabilize(Zp.sum(1), rule.epsilon))[:, None]
        share_n = Zn * safe_divide(R, stabilize(Zn.sum(1), rule.epsilon))[:, None]
        return (rule.alpha * share_p - rule.beta * share_n).sum(2)
    if isinstance(rule, ZBox):
        low, high = (torch.as_tensor(v if given is None else given, dtype=a.dtype, device=a.device).expand_as(a)
                     for v, given in ((rule.low, low), (rule.high, high)))
        Z = a[:, :, None] * W - low[:, :, None] * W.clamp(min=0) - high[:, :, None] * W.clamp(max=0)
    elif isinstance(rule, Flat):
        Z = (torch.ones_like(a) if real is None else real)[:, :, None] * torch.ones_like(W)
    else:
        raise ValueError(f"literal LRP: no matrix form for {rule!r}; "
                         "use Zero, Epsilon, Gamma, AlphaBeta, ZPlus, ZBox or Flat")
    return (Z * safe_divide(R, stabilize(Z.sum(1), rule.epsilon))[:, None]).sum(2)


def _as_2d(module, a):
    """Unfold arguments for a 1-D or 2-D window layer, with 1-D inputs seen as height-1 images."""
    k, s, p, d = (getattr(module, n, 1) for n in ("kernel_size", "stride", "padding", "dilation"))
    s = k if s is None else s
    if isinstance(module, (nn.Conv1d, nn.MaxPool1d, nn.AvgPool1d)):
        one = lambda v: (1, v[0] if isinstance(v, tuple) else v)  # noqa: E731
        return a[:, :, None], dict(kernel_size=one(k), stride=one(s), padding=(0, one(p)[1]), dilation=one(d))
    two = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    return a, dict(kernel_size=two(k), stride=two(s), padding=two(p), dilation=two(d))


def _check_layer(module, kinds, a, R):
    if not isinstance(module, kinds):
        raise TypeError(f"module: expected one of {[k.__name__ for k in kinds]}, got {type(module).__name__}")
    validate.tensor(a, "a", floating=True)
    validate.tensor(R, "R", floating=True)
    one_d = isinstance(module, (nn.Conv1d, nn.MaxPool1d, nn.AvgPool1d))
    if a.dim() != (3 if one_d else 4):
        raise ValueError(f"a: expected a {'(N, C, L)' if one_d else '(N, C, H, W)'} input of {type(module).__name__}, "
                         f"got shape {tuple(a.shape)}")
    with torch.no_grad():
        out_shape = module(a).shape
    if tuple(R.shape) != tuple(out_shape):
        raise ValueError(f"R: expected the shape of the layer's output {tuple(out_shape)}, got {tuple(R.shape)}")


def _check_window(module):
    if isinstance(module, (nn.Conv1d, nn.Conv2d)):
        if module.groups != 1 or module.padding_mode != "zeros" or isinstance(module.padding, str):
            raise ValueError(f"literal LRP: {type(module).__name__} needs groups=1, numeric zero padding; got {module}")
    elif getattr(module, "ceil_mode", False) or getattr(module, "count_include_pad", True) is False:
        raise ValueError(f"literal LRP: {type(module).__name__} needs ceil_mode=False and count_include_pad=True; "
                         f"got {module}")


def conv_relevance(module, a, R, rule, low=None, high=None):
    """The linear rule on every patch of unfold(a) (im2col), folded back: Conv1d and Conv2d."""
    _check_layer(module, (nn.Conv1d, nn.Conv2d), a, R)
    _check_window(module)
    a4, kw = _as_2d(module, a)
    N, size = a.shape[0], a4.shape[-2:]
    cols = F.unfold(a4, **kw)  # (N, C k, L)
    L = cols.shape[-1]
    rows = lambda c: c.transpose(1, 2).reshape(N * L, -1)  # noqa: E731
    extra = {}
    if isinstance(rule, ZBox):
        for key, v in (("low", low), ("high", high)):
            full = torch.as_tensor(v, dtype=a.dtype, device=a.device).expand_as(a)
            extra[key] = rows(F.unfold(_as_2d(module, full)[0], **kw))
    extra["real"] = rows(F.unfold(torch.ones_like(a4), **kw))
    W = module.weight.detach().reshape(module.out_channels, -1)  # (out, C k)
    R_rows = rows(R.reshape(N, module.out_channels, L))  # (N L, out)
    bias = None if module.bias is None else module.bias.detach()
    R_cols = linear_relevance(rows(cols), W, bias, R_rows, rule, **extra)
    R_cols = R_cols.reshape(N, L, -1).transpose(1, 2)  # (N, C k, L)
    return F.fold(R_cols, size, **kw).reshape(a.shape)


def pool_relevance(module, a, R, epsilon):
    """Max pooling: winner takes all; average pooling: the z-rule with z_ij = a_i / k and epsilon."""
    _check_layer(module, (nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d), a, R)
    epsilon = validate.number(epsilon, "epsilon", minimum=0)
    _check_window(module)
    a4, kw = _as_2d(module, a)
    N, C, size = a.shape[0], a.shape[1], a4.shape[-2:]
    if isinstance(module, (nn.MaxPool1d, nn.MaxPool2d)):
        ph, pw = kw.pop("padding")
        a4 = F.pad(a4, (pw, pw, ph, ph), value=float("-inf"))
        cols = F.unfold(a4, padding=0, **kw)  # (N, C k, L)
        cols = cols.reshape(N, C, -1, cols.shape[-1])  # (N, C, k, L)
        share = F.one_hot(cols.argmax(2), cols.shape[2]).transpose(2, 3).to(a.dtype)
        R_cols = share * R.reshape(N, C, 1, -1)
        padded = F.fold(R_cols.reshape(N, -1, R_cols.shape[-1]), a4.shape[-2:], padding=0, **kw)
        return padded[..., ph:ph + size[0], pw:pw + size[1]].reshape(a.shape)
    cols = F.unfold(a4, **kw)
    cols = cols.reshape(N, C, -1, cols.shape[-1])  # (N, C, k, L)
    Z = cols / cols.shape[2]
    R_cols = Z * safe_divide(R.reshape(N, C, 1, -1), stabilize(Z.sum(2, keepdim=True), epsilon))
    return F.fold(R_cols.reshape(N, -1, R_cols.shape[-1]), size, **kw).reshape(a.shape)


def _leaves(model):
    return [(n, m) for n, m in model.named_modules() if not list(m.children())]


def lrp_literal(model, inputs, target, rule="epsilon", epsilon=1e-6, gamma=0.25, rule_map=None, return_layers=False,
                **forward_kwargs):
    """LRP by walking a chain of layers backwards and applying each rule in matrix form.

    Same call and result as :func:`lrp` for chains of Linear, Conv1d/Conv2d, elementwise
    activations, max/average pooling, Flatten and Dropout (reshapes between layers
    pass relevance unchanged); used to teach the rules and to check the fast pass.
    """
    validate.module(model)
    if not isinstance(return_layers, bool):
        raise TypeError(f"return_layers: expected a bool, got {type(return_layers).__name__}")
    epsilon = validate.number(epsilon, "epsilon", minimum=0)
    gamma = validate.number(gamma, "gamma", minimum=0)
    check_rule_map(rule_map, model)
    default = make_rule(rule, epsilon, gamma)
    with eval_mode(model):
        p = Prepared(model, inputs, forward_kwargs, lrp_literal)
        x = p.x
        calls = []
        hooks = [m.register_forward_hook(lambda m, args, out, n=n: calls.append((n, m, args[0].detach(), out.detach())))
                 for n, m in _leaves(model)]
        try:
            with torch.enable_grad():
                out = p.forward(x).detach().requires_grad_(True)
                (g,) = torch.autograd.grad(select_target(out, target).sum(), out)
        finally:
            for h in hooks:
                h.remove()
    R = out.detach() * g
    layers = {"output": R}
    for name, m, a, y in reversed(calls):
        if R.numel() != y.numel():
            raise ValueError(f"literal LRP: layer {name!r} output has shape {tuple(y.shape)} but the layer above "
                             f"takes {tuple(R.shape)}; the model is not a chain of layers")
        R = _layer(name, m, a, R.reshape(y.shape), lookup(name, m, rule_map), default, epsilon, gamma)
        layers[name] = R
    R = R.reshape(x.shape)
    layers["input"] = R
    return (R, layers) if return_layers else R


def _layer(name, m, a, R, spec, default, epsilon, gamma):
    rule = default if spec is None else make_rule(spec, epsilon, gamma)
    if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)) and isinstance(rule, Rule):
        bounds = (rule.low, rule.high) if isinstance(rule, ZBox) else (None, None)
        if isinstance(m, nn.Linear):
            flat = a.reshape(-1, a.shape[-1])
            lo, hi = (None if v is None else
                      torch.as_tensor(v, dtype=a.dtype, device=a.device).expand_as(a).reshape(flat.shape)
                      for v in bounds)
            out = linear_relevance(flat, m.weight.detach(), None if m.bias is None else m.bias.detach(),
                                   R.reshape(-1, R.shape[-1]), rule, lo, hi)
            return out.reshape(a.shape)
        return conv_relevance(m, a, R, rule, *bounds)
    if rule == PASS:
        return R.reshape(a.shape)
    if isinstance(rule, Rule) and isinstance(m, (nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d)):
        return pool_relevance(m, a, R, epsilon)
    if isinstance(rule, Rule) and isinstance(m, ACTIVATIONS + SHAPE_ONLY):
        return R.reshape(a.shape)
    kind = type(m).__name__
    raise ValueError(f"literal LRP: no matrix rule for layer {name!r} of type {kind} (rule {rule!r}); "
                     f"use lrp() for it, or map it to 'pass' with rule_map={{{kind}: 'pass'}}")
