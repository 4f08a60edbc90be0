"""Explanation methods, mechanistic tools and the metrics that judge explanations."""

# perturbation methods, mechanistic tools, metrics (evalmech)
from llmxai.explain.evaluate import (Curve, RandomizationResult, aopc, cascading_randomization, comprehensiveness,
                                     deletion_curve, independent_randomization, insertion_curve, precision_at_k,
                                     rank_correlation, rationale_auc, spearman, sufficiency)
from llmxai.explain.mech import (ProbeResult, activation_patching, control_task, induction_head_scores, linear_probe,
                                 logit_difference, logit_lens, previous_token_head_scores, selectivity)
from llmxai.explain.perturb import exact_shapley, kernel_shap, leave_one_out, lime, occlusion

__all__ = [
    # evalmech
    "occlusion", "leave_one_out", "lime", "kernel_shap", "exact_shapley",
    "activation_patching", "logit_difference", "logit_lens", "linear_probe", "ProbeResult", "control_task",
    "selectivity", "induction_head_scores", "previous_token_head_scores",
    "deletion_curve", "insertion_curve", "Curve", "aopc", "comprehensiveness", "sufficiency", "rationale_auc",
    "precision_at_k", "spearman", "rank_correlation", "cascading_randomization", "independent_randomization",
    "RandomizationResult",
]
