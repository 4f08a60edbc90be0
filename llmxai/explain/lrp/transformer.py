"""LRP for Transformers: CP-LRP and AttnLRP on models that follow llmxai.nn.contract.

CP-LRP (Ali et al. 2022, "XAI for Transformers: Better Explanations through Conservative
Propagation", ICML, arXiv 2202.07304): the attention weights and the LayerNorm scale
are held constant, so attention and normalisation are linear maps, and relevance is
gradient x input with the epsilon rule on the Linear layers. ``lrp(..., attention="cp")``
detaches ``hook_pattern`` and every normalisation's ``hook_scale`` by hooks, for the pass only.

AttnLRP (Achtibat et al. 2024, "AttnLRP: Attention-Aware Layer-Wise Relevance Propagation
for Transformers", ICML, arXiv 2402.05602): the softmax rule R_s = s * (R_P - P sum R_P)
(which in the gradient form R = a * g is the plain softmax gradient), the uniform rule
for the products q k^T and P v (each factor gets half: hooks on hook_q, hook_k, hook_v
and hook_pattern halve the gradient), and the identity rule for LayerNorm's division
(the detached scale) and for activation modules.
"""

import math

import torch

from llmxai import validate
from llmxai.explain.lrp._autograd import Half, pass_relevance
from llmxai.explain.lrp.rules import safe_divide, stabilize
from llmxai.hooks import HookPoint
from llmxai.nn.attention import masked_softmax
from llmxai.nn.contract import ATTENTION_HOOKS, NORM_HOOK


def _has_hook(module, name):
    return isinstance(getattr(module, name, None), HookPoint)


def attention_modules(model):
    """[(name, module)] for every attention module: those with a ``hook_pattern`` (llmxai.nn.contract)."""
    return [(n, m) for n, m in model.named_modules() if _has_hook(m, "hook_pattern")]


def norm_modules(model):
    """[(name, module)] for every normalisation layer: those with a ``hook_scale`` (llmxai.nn.contract)."""
    return [(n, m) for n, m in model.named_modules() if _has_hook(m, NORM_HOOK)]


def _detach(mod, args, out):
    return out.detach()


def norm_hooks(model, stack):
    """Hold every normalisation's scale constant (identity rule for its division); removed by ``stack``."""
    for _, m in norm_modules(model):
        stack.callback(getattr(m, NORM_HOOK).register_forward_hook(_detach).remove)


def cp_hooks(model, stack):
    """CP-LRP: hold every attention pattern constant, so relevance flows through the values only."""
    for _, m in attention_modules(model):
        stack.callback(m.hook_pattern.register_forward_hook(_detach).remove)


def attnlrp_hooks(model, stack):
    """Halve the gradient at q, k, v and the pattern of every attention module (uniform rule); removed by ``stack``."""
    for name, m in attention_modules(model):
        missing = [h for h in ATTENTION_HOOKS if not isinstance(getattr(m, h, None), torch.nn.Module)]
        if missing:
            raise ValueError(f"AttnLRP: attention module {name!r} lacks the hook points {missing} (llmxai.nn.contract)")
        for h in ATTENTION_HOOKS:
            handle = getattr(m, h).register_forward_hook(lambda mod, args, out: Half.apply(out))
            stack.callback(handle.remove)


def pooling_hooks(model, stack):
    """Hold attention-pooling weights (hook points named ``hook_attn_weights``, e.g. over LSTM states) constant.

    They weight the states like a gate, so, as for LSTM gates (Arras et al. 2017), the
    weights take no relevance and all of it goes to the states (in both modes).
    """
    for name, m in model.named_modules():
        if name.split(".")[-1] == "hook_attn_weights":
            handle = m.register_forward_hook(lambda mod, args, out: out.detach())
            stack.callback(handle.remove)


def activation_hooks(model, stack):
    """Identity rule for a functional activation between ``linear1`` and ``hook_hidden`` (llmxai's FeedForward).

    The activation is a function, not a module, so the pass cannot see it; the hook
    point right after it can. Its output then sends g * a / z straight to z = linear1(x),
    so relevance crosses the activation unchanged (Achtibat et al. 2024; Montavon et al. 2019).
    ReLU needs nothing: its gradient already is a / z.
    """
    for m in model.modules():
        linear1, hidden = getattr(m, "linear1", None), getattr(m, "hook_hidden", None)
        if not (isinstance(linear1, torch.nn.Linear) and isinstance(hidden, HookPoint)
                and getattr(m, "activation", "relu") != "relu"):
            continue
        identity_rule(m.linear1, m.hook_hidden, stack)


def identity_rule(linear, point, stack, then=None):
    """Relevance crosses the elementwise activation between ``linear`` and the hook ``point`` unchanged.

    The hook on ``point`` makes the activation's output send g * a / z to z = linear(x), its
    input; ``then`` (e.g. ``Half.apply``) is applied to the output afterwards. Removed by ``stack``.
    """
    seen = {}
    stack.callback(linear.register_forward_hook(lambda mod, args, out: seen.__setitem__("z", out)).remove)

    def identity(mod, args, out):
        z = seen.pop("z", None)
        if z is not None and z.shape == out.shape and z.requires_grad:
            out = pass_relevance(z, out)
        return out if then is None else then(out)

    stack.callback(point.register_forward_hook(identity).remove)


def attention_relevance(q, k, v, R_z, method="attnlrp", mask=None, epsilon=0.0):
    """Literal rules for one attention: R_q, R_k, R_v (..., T, d_head) from R_z, z = softmax(q k^T / sqrt(d)) v.

    Every product gets its share by the epsilon rule on the sum it enters,
    z_id = sum_j P_ij v_jd and s_ij = sum_d q_id k_jd / sqrt(d). CP-LRP gives all of
    R_z to v (P constant); AttnLRP halves each product between its factors (uniform
    rule) and crosses the softmax by R_s = s (R_P - P sum_j R_P) (Achtibat et al. 2024, sec. 3).
    ``mask`` (bool, True = attend) broadcasts to the scores. A query whose keys are all masked
    attends to nothing (zero weights, as in :func:`llmxai.nn.masked_softmax`) and passes no relevance.
    """
    for name, t in (("q", q), ("k", k), ("v", v), ("R_z", R_z)):
        validate.tensor(t, name, min_ndim=2, floating=True)
    validate.choice(method, "method", ("cp", "attnlrp"))
    epsilon = validate.number(epsilon, "epsilon", minimum=0)
    if k.shape[-1] != q.shape[-1] or v.shape[-2] != k.shape[-2] or R_z.shape[-2:] != (q.shape[-2], v.shape[-1]):
        raise ValueError(f"q, k, v, R_z: expected (..., T_q, d), (..., T_k, d), (..., T_k, d_v) and (..., T_q, d_v), "
                         f"got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)} and {tuple(R_z.shape)}")
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])  # (..., T, T)
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            got = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
            raise TypeError(f"mask: expected a bool tensor (True = attend), got {got}")
        try:
            fits = torch.broadcast_shapes(mask.shape, s.shape) == s.shape
        except RuntimeError:
            fits = False
        if not fits:
            raise ValueError(f"mask: expected a shape that broadcasts to the scores {tuple(s.shape)}, "
                             f"got {tuple(mask.shape)}")
        s = s.masked_fill(~mask, float("-inf"))
    P = masked_softmax(s)
    z = P @ v
    Z = P[..., :, :, None] * v[..., None, :, :]  # (..., T_q, T_k, d): P_ij v_jd
    R_ijd = Z * safe_divide(R_z, stabilize(z, epsilon))[..., :, None, :]
    if method == "cp":
        return torch.zeros_like(q), torch.zeros_like(k), R_ijd.sum(-3)
    R_v, R_P = 0.5 * R_ijd.sum(-3), 0.5 * R_ijd.sum(-1)  # (..., T_k, d), (..., T_q, T_k)
    s_finite = torch.where(P > 0, s, torch.zeros_like(s))
    R_s = s_finite * (R_P - P * R_P.sum(-1, keepdim=True))
    Q = q[..., :, None, :] * k[..., None, :, :] / math.sqrt(q.shape[-1])  # (..., T_q, T_k, d): q_id k_jd / sqrt(d)
    R_qk = Q * safe_divide(R_s, stabilize(s_finite, epsilon))[..., None]
    return 0.5 * R_qk.sum(-2), 0.5 * R_qk.sum(-3), R_v
