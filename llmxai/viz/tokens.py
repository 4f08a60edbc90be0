"""Tokens highlighted by score, as self-contained HTML (inline styles, no script, no web font).

The object returned displays itself in Jupyter and in the built book through ``_repr_html_``.
Positive scores are red, negative blue, the opacity is ``|score| / max|score|``; a legend
shows the scale. Hovering a token shows its score.
"""

import html

import numpy as np
import torch

from llmxai import validate
from llmxai.viz import _checks

POSITIVE = (214, 39, 40)
NEGATIVE = (31, 119, 180)


def _alpha(score, scale):
    return min(abs(score) / scale, 1.0) if scale > 0 else 0.0


def _colour(score, scale):
    r, g, b = POSITIVE if score >= 0 else NEGATIVE
    return f"rgba({r}, {g}, {b}, {_alpha(score, scale):.3f})"


class TokenHighlight:
    """Highlighted tokens; ``.html`` holds the markup, notebooks render it via ``_repr_html_``."""

    def __init__(self, html_text):
        self.html = html_text

    def _repr_html_(self):
        return self.html

    def __str__(self):
        return self.html


def highlight_tokens(tokens, scores, *, max_abs=None, title=None, fmt="{:+.3f}"):
    """Return a :class:`TokenHighlight` colouring each token by its score (diverging, centred at 0).

    ``max_abs`` fixes the scale (default: the largest ``|score|``), so that several sentences
    can share one scale.
    """
    if isinstance(tokens, str) or not hasattr(tokens, "__len__"):
        raise TypeError(f"tokens: expected a list of strings, got {type(tokens).__name__}")
    if isinstance(scores, torch.Tensor) and scores.is_complex():
        raise TypeError(f"scores: expected real numbers, got a tensor of dtype {scores.dtype}")
    try:
        s = scores.detach().cpu().double().numpy() if isinstance(scores, torch.Tensor) else np.asarray(scores, float)
    except (TypeError, ValueError):
        raise TypeError(f"scores: expected one number per token, got {type(scores).__name__}") from None
    _checks.fmt(fmt)
    _checks.text(title, "title")
    if max_abs is not None:
        max_abs = validate.number(max_abs, "max_abs", minimum=0)
    if s.ndim != 1 or len(s) != len(tokens):
        raise ValueError(f"scores: expected a 1-D array of {len(tokens)} scores (one per token), got shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError("scores: expected finite values, got NaN or infinity")
    scale = float(np.abs(s).max()) if max_abs is None and len(s) else float(max_abs or 0.0)
    spans = []
    for token, score in zip(tokens, s):
        spans.append(
            f'<span title="{html.escape(fmt.format(score))}" style="background-color: {_colour(score, scale)}; '
            f'padding: 0.1em 0.25em; margin: 0 0.1em; border-radius: 0.25em; '
            f'color: {"#fff" if _alpha(score, scale) > 0.6 else "#111"}; '
            f'white-space: pre-wrap; line-height: 2;">{html.escape(str(token))}</span>')
    neg, pos = _colour(-scale, scale), _colour(scale, scale)
    legend = (f'<div style="font-size: 0.8em; color: #444; margin-top: 0.4em; display: flex; align-items: center; '
              f'gap: 0.4em;"><span>{html.escape(fmt.format(-scale))}</span>'
              f'<span style="display: inline-block; width: 10em; height: 0.8em; border: 1px solid #ccc; '
              f'background: linear-gradient(to right, {neg}, rgba(255, 255, 255, 0), {pos});"></span>'
              f'<span>{html.escape(fmt.format(scale))}</span></div>')
    head = f'<div style="font-weight: bold; margin-bottom: 0.3em;">{html.escape(title)}</div>' if title else ""
    body = (f'<div class="llmxai-tokens" style="font-family: inherit; background: #fff; padding: 0.4em;">'
            f'{head}<div>{"".join(spans)}</div>{legend}</div>')
    return TokenHighlight(body)
