"""Axioms of attribution as functions that tests, chapters and lessons can all call."""

from llmxai import validate
from llmxai.explain._inputs import Prepared, eval_mode
from llmxai.explain.targets import select_target


def completeness_gap(model, inputs, target, attributions, baseline=None, **forward_kwargs):
    """``sum(attributions) - (F(x) - F(x'))`` per example, shape ``(B,)``.

    Completeness (Sundararajan et al. 2017, arXiv 1703.01365, Prop. 1): path attributions
    add up to the change of the output between the baseline x' and the input x.
    ``baseline`` takes the same values as in :func:`integrated_gradients`.
    """
    with eval_mode(model):
        p = Prepared(model, inputs, forward_kwargs, completeness_gap)
        validate.tensor(attributions, "attributions", floating=True)
        if attributions.shape != p.x.shape:
            raise ValueError(f"attributions: expected shape {tuple(p.x.shape)}, got {tuple(attributions.shape)}")
        x0 = p.baseline(baseline)
        change = select_target(p.output(p.x), target) - select_target(p.output(x0), target)
        return attributions.detach().reshape(p.B, -1).sum(1) - change
