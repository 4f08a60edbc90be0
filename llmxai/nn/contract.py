"""The model contract: what explanation methods in :mod:`llmxai.explain` rely on.

Text models
    take token ids ``(B, T)`` and return logits, and also expose

    - ``embed(ids) -> E`` with ``E`` of shape ``(B, T, d)``, and
    - ``forward_embedded(E)`` giving the same logits as ``forward(ids)``,

    so gradient and relevance methods work on the embedding; a token's score is the sum
    over ``d``. Optional: ``lengths(ids) -> (B,)`` for a model that reads its lengths off
    the padding (the Transformer classifiers); then ``forward_embedded(E, lengths)`` takes
    them, so a perturbed token is not taken for padding (see :mod:`llmxai.explain._common`).

Hook points
    intermediates are :class:`llmxai.hooks.HookPoint` modules named ``hook_<what>``
    (``hook_embed``, ``hook_resid_pre``, ``hook_q``, ``hook_k``, ``hook_v``, ``hook_scores``,
    ``hook_pattern``, ``hook_z``, ``hook_hidden``, ...); a hook on one reads or replaces it
    by its dotted name in ``model.named_modules()`` (:mod:`llmxai.hooks`).

LRP-able layers
    Linear, Conv, activations, pooling, LSTMs as in :mod:`llmxai.explain.lrp`; an attention
    module exposes the hook points in :data:`ATTENTION_HOOKS` (AttnLRP halves the gradient
    at each, CP-LRP holds ``hook_pattern`` constant); a normalisation layer (LayerNorm,
    RMSNorm) exposes its scale, the denominator, as :data:`NORM_HOOK`, which LRP holds constant.
    Both are done by hooks for the duration of the pass: the models carry no explanation switches.
"""

ATTENTION_HOOKS = ("hook_q", "hook_k", "hook_v", "hook_pattern")
NORM_HOOK = "hook_scale"
TEXT_MODEL_METHODS = ("embed", "forward_embedded")


def check_text_model(model):
    """Raise a TypeError naming what ``model`` lacks of the text-model contract; return it otherwise."""
    missing = [m for m in TEXT_MODEL_METHODS if not callable(getattr(model, m, None))]
    if missing:
        raise TypeError(f"expected a text model with {' and '.join(TEXT_MODEL_METHODS)} "
                        f"(llmxai.nn.contract); {type(model).__name__} lacks {', '.join(missing)}")
    return model


def reads_lengths(model):
    """Whether ``model`` reads its lengths off the padding (has the optional ``lengths(ids)``)."""
    return callable(getattr(model, "lengths", None))


def check_attention(module, name="attention"):
    """Raise a TypeError if the attention ``module`` lacks a hook point of :data:`ATTENTION_HOOKS`."""
    from torch import nn

    missing = [h for h in ATTENTION_HOOKS if not isinstance(getattr(module, h, None), nn.Module)]
    if missing:
        raise TypeError(f"expected attention module {name!r} to have the hook points {list(ATTENTION_HOOKS)} "
                        f"(llmxai.nn.contract); it lacks {missing}")
    return module
