"""Explanation methods, one call shape: ``method(model, inputs, target, **options)``."""

# Common plumbing, gradient methods, Grad-CAM and attention-based methods.
from llmxai.explain._inputs import token_scores
from llmxai.explain.axioms import completeness_gap
from llmxai.explain.gradcam import grad_cam
from llmxai.explain.gradients import gradient_x_input, integrated_gradients, saliency, smoothgrad
from llmxai.explain.rollout import (attention_flow, attention_maps, attention_rollout, attention_x_gradient,
                                    max_flow)
from llmxai.explain.targets import select_target

__all__ = [
    "select_target", "token_scores", "completeness_gap",
    "saliency", "gradient_x_input", "smoothgrad", "integrated_gradients",
    "grad_cam",
    "attention_maps", "attention_rollout", "attention_flow", "attention_x_gradient", "max_flow",
]
