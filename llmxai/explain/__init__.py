"""Explanation methods, one call shape: ``method(model, inputs, target, **options)``.

``inputs`` are float tensors (attributions come back shaped like them) or, for text models,
``(B, T)`` token ids (attributions come back shaped like ``model.embed(ids)``; sum them to
per-token scores with :func:`token_scores`). ``target``: see :mod:`llmxai.explain.targets`.
Keywords that are neither options of the method nor parameters of the model's forward are
errors. A model with any submodule in training mode is explained with every submodule in
eval mode for the call, with a warning, and each submodule's mode is restored afterwards;
inside ``torch.inference_mode()`` the methods turn autograd back on for the call.
"""

# Common plumbing, gradient methods, Grad-CAM and attention-based methods.
from llmxai.explain._inputs import token_scores
from llmxai.explain.axioms import completeness_gap
from llmxai.explain.gradcam import grad_cam
from llmxai.explain.gradients import gradient_x_input, integrated_gradients, saliency, smoothgrad
from llmxai.explain.rollout import (attention_flow, attention_maps, attention_rollout, attention_x_gradient,
                                    max_flow)
from llmxai.explain.targets import select_target

# Layer-wise relevance propagation (literal rules and the fast modified-gradient pass).
from llmxai.explain.lrp import (AlphaBeta, Conservation, Epsilon, Flat, Gamma, Rule, Zero, ZBox, ZPlus, attn_lrp,
                                conservation, cp_lrp, lrp, lrp_literal)

# Perturbation methods, mechanistic tools, metrics.
from llmxai.explain.evaluate import (Curve, RandomizationResult, aopc, cascading_randomization, comprehensiveness,
                                     deletion_curve, independent_randomization, insertion_curve, precision_at_k,
                                     rank_correlation, rationale_auc, spearman, sufficiency)
from llmxai.explain.mech import (ProbeResult, activation_patching, control_task, induction_head_scores, linear_probe,
                                 logit_difference, logit_lens, previous_token_head_scores, selectivity)
from llmxai.explain.perturb import exact_shapley, kernel_shap, leave_one_out, lime, occlusion
from llmxai.explain.units import unit_correlations

__all__ = [
    "select_target", "token_scores", "completeness_gap",
    "saliency", "gradient_x_input", "smoothgrad", "integrated_gradients",
    "grad_cam",
    "attention_maps", "attention_rollout", "attention_flow", "attention_x_gradient", "max_flow",
    "occlusion", "leave_one_out", "lime", "kernel_shap", "exact_shapley",
    "activation_patching", "logit_difference", "logit_lens", "linear_probe", "ProbeResult", "control_task",
    "selectivity", "induction_head_scores", "previous_token_head_scores", "unit_correlations",
    "deletion_curve", "insertion_curve", "Curve", "aopc", "comprehensiveness", "sufficiency", "rationale_auc",
    "precision_at_k", "spearman", "rank_correlation", "cascading_randomization", "independent_randomization",
    "RandomizationResult",
    "lrp", "lrp_literal", "cp_lrp", "attn_lrp", "conservation", "Conservation",
    "Rule", "Zero", "Epsilon", "Gamma", "AlphaBeta", "ZPlus", "ZBox", "Flat",
]
