"""LRP over a whole model as one modified backward pass (the fast path).

Forward hooks change how the gradient crosses each layer so that, with R = a * g
carried at every tensor, the backward pass applies the LRP rules (Montavon et al.
2019, sec. 10.2.2 "Implementing LRP efficiently"; the gradient form of LRP-eps is
Ancona et al. 2018, arXiv 1711.06104).
"""

from contextlib import ExitStack, contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from llmxai import validate
from llmxai.explain._inputs import Prepared, eval_mode
from llmxai.explain.lrp._common import ACTIVATIONS, AVG_POOLS, MAX_POOLS, SHAPE_ONLY, WEIGHTED
from llmxai.explain.lrp import lstm as lstm_rules
from llmxai.explain.lrp import transformer as attention_rules
from llmxai.explain.lrp._autograd import RuleFunction, Tap, pass_relevance
from llmxai.explain.lrp.rules import GRADIENT, PASS, Flat, Rule, ZBox, check_rule_map, lookup, make_rule, stable_ratio
from llmxai.explain.targets import select_target


def affine_map(module):
    """The layer's map x -> x W^T + b as a function of (x, W, b)."""
    if isinstance(module, nn.Linear):
        return F.linear
    return module._conv_forward


def layer_plan(model, rule, epsilon, gamma, rule_map):
    """[(name, module, what)] for every module the pass treats.

    ``what`` is a Rule, PASS, GRADIENT, "avgpool", "lstm", or None (unsupported: raises if it runs).
    """
    check_rule_map(rule_map, model)
    default = make_rule(rule, epsilon, gamma)
    plan, inside = [], []
    types = tuple(k for k in (rule_map or {}) if isinstance(k, type))
    for name, m in model.named_modules():
        if any(name.startswith(p + ".") for p in inside):
            continue
        spec = lookup(name, m, rule_map)
        if isinstance(m, nn.MultiheadAttention) and spec is None:
            inside.append(name)
            plan.append((name, m, None))
        elif lstm_rules.is_lstm(m) or spec in (PASS, GRADIENT):
            inside.append(name)
            plan.append((name, m, "lstm" if spec is None else spec))
        elif isinstance(m, WEIGHTED):
            plan.append((name, m, default if spec is None else make_rule(spec, epsilon, gamma)))
        elif not list(m.children()) and (name in (rule_map or {}) or isinstance(m, types)):
            raise ValueError(f"rule_map: layer {name!r} of type {type(m).__name__} has no weights; "
                             f"give it 'pass' or 'gradient', not {spec!r}")
        elif isinstance(m, AVG_POOLS):
            plan.append((name, m, "avgpool"))
        elif isinstance(m, ACTIVATIONS):
            plan.append((name, m, PASS))
        elif isinstance(m, MAX_POOLS + SHAPE_ONLY) or hasattr(m, "detach_scale") or hasattr(m, "detach_weights"):
            plan.append((name, m, GRADIENT))
        elif not list(m.children()):
            plan.append((name, m, None))
    return plan


def unsupported(name, module):
    kind = type(module).__name__
    return ValueError(
        f"lrp: no rule for layer {name!r} of type {kind}. Give it one with rule_map={{{kind}: 'pass'}} "
        f"(relevance passes unchanged, for elementwise layers), {{{kind}: 'gradient'}} (gradient x input "
        f"through the layer) or {{{name!r}: ...}} by name; weighted layers (Linear, Conv1d, Conv2d) take a Rule."
    )


@contextmanager
def switches(model, attention):
    """Set the explanation switches (see llmxai.nn.contract): LayerNorm scale constant; attention weights constant for CP-LRP."""
    saved = []
    try:
        for m in model.modules():
            if hasattr(m, "detach_scale"):
                saved.append((m, "detach_scale", m.detach_scale))
                m.detach_scale = True
            if hasattr(m, "detach_weights"):
                saved.append((m, "detach_weights", m.detach_weights))
                m.detach_weights = attention == "cp"
        yield
    finally:
        for m, attr, value in saved:
            setattr(m, attr, value)


def lrp(model, inputs, target, rule="epsilon", epsilon=1e-6, gamma=0.25, rule_map=None, return_layers=False,
        attention="cp", *, _caller=None, **forward_kwargs):
    """Layer-wise relevance propagation as one modified backward pass.

    Bach et al. 2015, PLoS ONE, DOI 10.1371/journal.pone.0130140; rules as in Montavon et al. 2019.

    The target score's relevance R = y_c starts at the output and is redistributed
    layer by layer: weighted layers by ``rule`` (a :class:`Rule`, or one of "zero",
    "epsilon", "gamma", "zplus", "alpha_beta" (alpha 2, beta 1), "flat"), or by
    ``rule_map`` (layer type or dotted name -> rule, first match by name then type;
    "pass" or "gradient" for layers without weights), activations pass it unchanged, max
    pooling gives it to the winner, average pooling uses LRP-eps, LSTMs follow Arras et
    al. (2017) and attention follows CP-LRP (``attention="cp"``, Ali et al. 2022) or
    AttnLRP (``"attnlrp"``, Achtibat et al. 2024). Token ids are explained at the
    embeddings. Returns R shaped like ``inputs`` (or the embeddings), and with
    ``return_layers`` also {"output": R_out, layer name: relevance at its input, ...}
    ordered from the output down. Rules ZBox and Flat only on a layer fed by ``inputs``.
    ``forward_kwargs`` (e.g. ``lengths``) go to the model's forward.
    """
    validate.module(model)
    validate.choice(attention, "attention", ("cp", "attnlrp"))
    if not isinstance(return_layers, bool):
        raise TypeError(f"return_layers: expected a bool, got {type(return_layers).__name__}")
    epsilon = validate.number(epsilon, "epsilon", minimum=0)
    gamma = validate.number(gamma, "gamma", minimum=0)
    with eval_mode(model):
        p = Prepared(model, inputs, forward_kwargs, _caller or lrp)
        plan = layer_plan(model, rule, epsilon, gamma, rule_map)
        x = p.x.detach().requires_grad_(True)
        sink, layers, order = [], {}, []
        with ExitStack() as stack, switches(model, attention):
            for name, m, what in plan:
                hook = _hook(name, what, epsilon, x, sink, layers if return_layers else None, order)
                if what == "lstm":
                    stack.callback(m.register_forward_hook(hook, with_kwargs=True).remove)
                else:
                    stack.callback(m.register_forward_hook(lambda mod, args, out, h=hook: h(mod, args, {}, out)).remove)
                records_itself = what in (None, "lstm") or isinstance(what, Rule) and not what.plain
                if return_layers and not records_itself:
                    stack.callback(m.register_forward_pre_hook(_tap(name, layers)).remove)
            attention_rules.pooling_hooks(model, stack)
            attention_rules.activation_hooks(model, stack)
            if attention == "attnlrp":
                attention_rules.attnlrp_hooks(model, stack)
            with torch.enable_grad():
                out = p.forward(x)
                scores = select_target(out, target)
                (g,) = torch.autograd.grad(scores.sum(), x, allow_unused=True)
        R = x.detach() * (torch.zeros_like(x) if g is None else g) + sum(sink)
        if not return_layers:
            return R
        with torch.no_grad():
            R_out = out.detach() * _output_grad(out, target)
        ordered = {"output": R_out}
        for name in reversed(order):
            if name in layers:
                ordered[name] = layers[name]
        ordered["input"] = R
        return R, ordered


def _output_grad(out, target):
    o = out.detach().requires_grad_(True)
    with torch.enable_grad():
        return torch.autograd.grad(select_target(o, target).sum(), o)[0]


def _tap(name, layers):
    def pre(module, args):
        if args and isinstance(args[0], torch.Tensor) and args[0].requires_grad:
            return (Tap.apply(args[0], lambda R: layers.__setitem__(name, R)),) + tuple(args[1:])

    return pre


def _hook(name, what, epsilon, x, sink, layers, order):
    record = None if layers is None else (lambda R: layers.__setitem__(name, R))

    def hook(module, args, kwargs, out):
        order.append(name)
        if what is None:
            raise unsupported(name, module)
        a = args[0] if args else None
        if what == GRADIENT or what != "lstm" and not (isinstance(out, torch.Tensor) and out.requires_grad):
            return None
        if what == "lstm":
            return lstm_rules.fast_output(module, args, kwargs, out, epsilon, record)
        if what == PASS:
            return None if isinstance(module, nn.ReLU) else pass_relevance(a, out)
        if what == "avgpool" or what.plain:
            eps = epsilon if what == "avgpool" else what.epsilon
            factor = stable_ratio(out.detach(), eps)
            out.register_hook(lambda g: g * factor)
            return None
        if isinstance(what, (ZBox, Flat)) and a is not x:
            raise ValueError(f"lrp: rule {what!r} on layer {name!r} needs a layer fed directly by the inputs (the "
                             "fast pass carries R = a * g, which cannot hold relevance where a = 0); "
                             "use lrp_literal or another rule")
        into = sink if a is x else None
        return RuleFunction.apply(a, out.detach(), what, affine_map(module), module.weight.detach(),
                                  None if module.bias is None else module.bias.detach(), into, record)

    return hook
