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
from llmxai.explain.lrp import gated
from llmxai.explain.lrp._autograd import RuleFunction, Tap, pass_relevance
from llmxai.explain.lrp.rules import GRADIENT, PASS, Flat, ZBox, check_rule_map, lookup, make_rule, stable_ratio
from llmxai.explain.targets import select_target


def affine_map(module):
    """The layer's map x -> x W^T + b as a function of (x, W, b)."""
    if isinstance(module, nn.Linear):
        return F.linear
    return module._conv_forward


def layer_plan(model, rule, epsilon, gamma, rule_map):
    """[(name, module, kind, rule)] for every module the pass treats.

    ``kind`` picks the :class:`Handlers` method that treats the layer (:data:`KINDS`);
    ``rule`` is the :class:`Rule` of a "weighted" layer (None for the other kinds). An LSTM,
    torch's MultiheadAttention, and a module that ``rule_map`` gives "pass" or "gradient" are
    treated whole: the modules inside them are not planned.
    """
    check_rule_map(rule_map, model)
    default = make_rule(rule, epsilon, gamma)
    plan, inside = [], []
    types = tuple(k for k in (rule_map or {}) if isinstance(k, type))
    linear_by_hooks = {id(m) for _, m in attention_rules.attention_modules(model) + attention_rules.norm_modules(model)}
    for name, m in model.named_modules():
        if any(name.startswith(p + ".") for p in inside):
            continue
        spec = lookup(name, m, rule_map)
        if isinstance(m, nn.MultiheadAttention) and spec is None:
            inside.append(name)
            plan.append((name, m, "unsupported", None))
        elif lstm_rules.is_lstm(m) or spec in (PASS, GRADIENT):
            inside.append(name)
            plan.append((name, m, "lstm" if spec is None else spec, None))
        elif isinstance(m, WEIGHTED):
            plan.append((name, m, "weighted", default if spec is None else make_rule(spec, epsilon, gamma)))
        elif not list(m.children()) and (name in (rule_map or {}) or isinstance(m, types)):
            raise ValueError(f"rule_map: layer {name!r} of type {type(m).__name__} has no weights; "
                             f"give it 'pass' or 'gradient', not {spec!r}")
        elif isinstance(m, AVG_POOLS):
            plan.append((name, m, "avgpool", None))
        elif isinstance(m, ACTIVATIONS):
            plan.append((name, m, PASS, None))
        elif isinstance(m, MAX_POOLS + SHAPE_ONLY) or id(m) in linear_by_hooks:
            plan.append((name, m, GRADIENT, None))  # attention and norms: made linear by the contract's hooks
        elif not list(m.children()):
            plan.append((name, m, "unsupported", None))
    return plan


def unsupported(name, module):
    kind = type(module).__name__
    return ValueError(
        f"lrp: no rule for layer {name!r} of type {kind}. Give it one with rule_map={{{kind}: 'pass'}} "
        f"(relevance passes unchanged, for elementwise layers), {{{kind}: 'gradient'}} (gradient x input "
        f"through the layer) or {{{name!r}: ...}} by name; weighted layers (Linear, Conv1d, Conv2d) take a Rule."
    )


def _fixed_lrp(caller, attention, model, inputs, target, epsilon, rule_map, return_layers, forward_kwargs):
    fixed = sorted(set(forward_kwargs) & {"rule", "gamma", "attention", "_caller"})
    if fixed:
        raise TypeError(f"{caller.__name__}: unknown option(s) {fixed}; it fixes the rule (epsilon) and the "
                        f"attention mode ({attention!r}); use lrp() to choose them")
    return lrp(model, inputs, target, rule="epsilon", epsilon=epsilon, rule_map=rule_map,
               return_layers=return_layers, attention=attention, _caller=caller, **forward_kwargs)


def cp_lrp(model, inputs, target, epsilon=1e-6, rule_map=None, return_layers=False, **forward_kwargs):
    """CP-LRP (Ali et al. 2022): :func:`lrp` with attention weights and LayerNorm scale constant."""
    return _fixed_lrp(cp_lrp, "cp", model, inputs, target, epsilon, rule_map, return_layers, forward_kwargs)


def attn_lrp(model, inputs, target, epsilon=1e-6, rule_map=None, return_layers=False, **forward_kwargs):
    """AttnLRP (Achtibat et al. 2024): :func:`lrp` with the softmax and uniform rules in attention."""
    return _fixed_lrp(attn_lrp, "attnlrp", model, inputs, target, epsilon, rule_map, return_layers, forward_kwargs)



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
        handlers = Handlers(epsilon, x, sink, layers if return_layers else None, order)
        with ExitStack() as stack:
            for name, m, kind, layer_rule in plan:
                stack.callback(m.register_forward_hook(handlers.hook(name, kind, layer_rule), with_kwargs=True).remove)
                if kind == "lstm" and lstm_rules.equations_known(m):
                    stack.enter_context(handlers.lstm_forward(name, m))
                records_itself = kind in ("unsupported", "lstm") or kind == "weighted" and not layer_rule.plain
                if return_layers and not records_itself:
                    stack.callback(m.register_forward_pre_hook(_tap(name, layers)).remove)
            attention_rules.norm_hooks(model, stack)
            if attention == "cp":
                attention_rules.cp_hooks(model, stack)
            attention_rules.pooling_hooks(model, stack)
            attention_rules.activation_hooks(model, stack)
            gated.gate_hooks(model, stack, attention)  # SwiGLU: uniform + identity, or a constant gate
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


class Handlers:
    """One handler per layer kind, and what the handlers of one LRP pass share.

    Each handler runs as its layer's forward hook and changes how the gradient will cross
    the layer, so that R = a * g carries the layer's rule; returning None leaves it alone.
    """

    def __init__(self, epsilon, x, sink, layers, order):
        self.epsilon, self.x, self.sink, self.layers, self.order = epsilon, x, sink, layers, order

    def hook(self, name, kind, rule):
        handler = getattr(self, KINDS[kind])
        record = None if self.layers is None else (lambda R: self.layers.__setitem__(name, R))

        def hook(module, args, kwargs, out):
            self.order.append(name)
            if kind in ("unsupported", "lstm"):
                return handler(name, module, args, kwargs, out, record)
            if not (isinstance(out, torch.Tensor) and out.requires_grad):
                return None  # nothing that depends on the inputs crosses this layer
            return handler(name, module, args[0] if args else None, out, rule, record)

        return hook

    def unsupported(self, name, module, args, kwargs, out, record):
        raise unsupported(name, module)

    def lstm(self, name, module, args, kwargs, out, record):
        """Arras et al. 2017: relevance through the signal, not the gates (llmxai.explain.lrp.lstm)."""
        if lstm_rules.equations_known(module):
            return None  # its forward was replaced by the LRP-ready one (lstm_forward)
        return lstm_rules.fast_output(module, args, kwargs, out, self.epsilon, record)

    @contextmanager
    def lstm_forward(self, name, module):
        """Run an LSTM with torch's equations as the LRP-ready recomputation only, not twice."""
        record = None if self.layers is None else (lambda R: self.layers.__setitem__(name, R))
        module.forward = lambda *args, **kwargs: lstm_rules.lrp_output(module, args, kwargs, self.epsilon, record)
        try:
            yield
        finally:
            del module.forward  # the class's forward again

    def gradient(self, name, module, a, out, rule, record):
        """Gradient x input through the layer: nothing to change."""
        return None

    def passthrough(self, name, module, a, out, rule, record):
        """Elementwise layers: R_in = R_out (ReLU's gradient already gives it)."""
        return None if isinstance(module, nn.ReLU) else pass_relevance(a, out)

    def avgpool(self, name, module, a, out, rule, record):
        """Average pooling is linear: the epsilon rule, a gradient scaled by z / stab(z)."""
        self._scale(out, self.epsilon)

    def weighted(self, name, module, a, out, rule, record):
        """Linear and convolution layers: R_i = sum_j z_ij / z_j R_j, with z_ij as ``rule`` modifies it."""
        if rule.plain:  # LRP-0 and epsilon need no modified weights: a gradient scaled by z / stab(z)
            self._scale(out, rule.epsilon)
            return None
        if isinstance(rule, (ZBox, Flat)) and a is not self.x:
            raise ValueError(f"lrp: rule {rule!r} on layer {name!r} needs a layer fed directly by the inputs (the "
                             "fast pass carries R = a * g, which cannot hold relevance where a = 0); "
                             "use lrp_literal or another rule")
        into = self.sink if a is self.x else None
        return RuleFunction.apply(a, out.detach(), rule, affine_map(module), module.weight.detach(),
                                  None if module.bias is None else module.bias.detach(), into, record)

    @staticmethod
    def _scale(out, epsilon):
        factor = stable_ratio(out.detach(), epsilon)
        out.register_hook(lambda g: g * factor)


KINDS = {"unsupported": "unsupported", "lstm": "lstm", GRADIENT: "gradient", PASS: "passthrough",
         "avgpool": "avgpool", "weighted": "weighted"}  # layer kind -> its Handlers method
