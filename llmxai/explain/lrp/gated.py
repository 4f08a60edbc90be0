"""LRP through a gated feed-forward network (SwiGLU): ``(silu(x W_gate^T) * x W_up^T) W_down^T``.

Plain gradient x input counts the product twice (each factor receives the whole product's
relevance) and lets the SiLU's slope change it. Two rules fix that:

- AttnLRP (Achtibat et al. 2024, arXiv 2402.05602): the uniform rule gives each factor
  half of the product's relevance, and the identity rule carries the gate's half across
  the SiLU unchanged to ``gate_proj``.
- CP-LRP (Ali et al. 2022, arXiv 2202.07304): the gate is held constant, as attention
  weights and LSTM gates are (Arras et al. 2017), so all relevance goes to the linear branch.

Either way the block conserves relevance. Modules qualify by their hook points
(``gate_proj``, ``hook_gate``, ``hook_up``), as :class:`llmxai.nn.llama.SwiGLU` has them.
"""

import torch

from llmxai.explain.lrp._autograd import Half
from llmxai.explain.lrp.transformer import identity_rule
from llmxai.hooks import HookPoint


def gated_modules(model):
    """[(name, module)] for every gated feed-forward network in ``model``."""
    return [(n, m) for n, m in model.named_modules()
            if isinstance(getattr(m, "gate_proj", None), torch.nn.Linear)
            and isinstance(getattr(m, "hook_gate", None), HookPoint) and isinstance(getattr(m, "hook_up", None), HookPoint)]


def gate_hooks(model, stack, attention):
    """Register the gate rules of ``attention`` ("cp" or "attnlrp") on every gated network; removed by ``stack``."""
    for _, m in gated_modules(model):
        if attention == "cp":  # a constant gate: all the relevance goes through the linear branch
            stack.callback(m.hook_gate.register_forward_hook(lambda mod, args, out: out.detach()).remove)
            continue
        # identity rule across the SiLU, then the uniform rule: each branch gets half of the product
        identity_rule(m.gate_proj, m.hook_gate, stack, then=Half.apply)
        stack.callback(m.hook_up.register_forward_hook(lambda mod, args, out: Half.apply(out)).remove)
