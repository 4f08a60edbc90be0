"""An interactive token figure that needs no kernel and no network: data embedded in the page.

:func:`token_figure` returns markup holding the tokens and, as JSON, every attention
pattern ``(n_layers, n_heads, T, T)`` and any per-token relevance. The book's own script
``book/_static/token_figure.js`` (shipped through Sphinx's ``html_js_files``) finds the
markup, adds a layer and a head picker and a mode picker, and on hovering or tapping a
token shows its attention to every earlier token (or the relevance of every token),
colouring the tokens and writing the number of each into its ``data-value``. In Jupyter
without the script the tokens show as plain text.
"""

import html
import json

import torch

from llmxai import validate

FIGURE_CLASS = "llmxai-token-figure"
DIGITS = 4  # attention weights are written with 4 decimals: under 1 MB for 30 x 9 heads on 12 tokens


def _rounded(x, digits=DIGITS):
    return torch.round(x.detach().double().cpu() * 10**digits).div(10**digits).tolist()


def figure_data(tokens, patterns, relevance=None, *, layer=0, head=0, title=""):
    """The JSON-ready dict the script reads: tokens, patterns (rounded), relevance per method, defaults."""
    if not isinstance(tokens, (list, tuple)) or not all(isinstance(t, str) for t in tokens) or not tokens:
        raise TypeError(f"tokens: expected a non-empty list of str, got {tokens!r:.80}")
    validate.tensor(patterns, "patterns", ndim=4, floating=True)
    T = len(tokens)
    if patterns.shape[2:] != (T, T):
        raise ValueError(f"patterns: expected shape (n_layers, n_heads, {T}, {T}), got {tuple(patterns.shape)}")
    n_layers, n_heads = patterns.shape[:2]
    for name, v, n in (("layer", layer, n_layers), ("head", head, n_heads)):
        validate.positive_int(v, name, minimum=0)
        if v >= n:
            raise ValueError(f"{name}: expected an index in [0, {n}), got {v}")
    scores = {}
    for method, r in (relevance or {}).items():
        validate.tensor(r, f"relevance[{method!r}]", ndim=1, floating=True)
        validate.same_size(T, r.shape[0], f"relevance[{method!r}]: number of tokens")
        scores[str(method)] = _rounded(r)
    return {"tokens": list(tokens), "attention": _rounded(patterns), "relevance": scores,
            "layer": layer, "head": head, "title": str(title)}


def token_figure(tokens, patterns, relevance=None, *, layer=0, head=0, title=""):
    """HTML of the interactive figure: a container with the tokens and the data as embedded JSON.

    ``patterns (n_layers, n_heads, T, T)``: attention weights, row = query (the hovered
    token), column = key. ``relevance``: {method name: (T,) scores}. ``layer``, ``head``:
    what the pickers show first.
    """
    data = figure_data(tokens, patterns, relevance, layer=layer, head=head, title=title)
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=True).replace("</", "<\\/")
    spans = "".join(f'<span class="llmxai-token" data-index="{i}">{html.escape(t)}</span>'
                    for i, t in enumerate(tokens))
    return (f'<div class="{FIGURE_CLASS}">'
            f'<div class="llmxai-controls"></div><div class="llmxai-tokens">{spans}</div>'
            f'<div class="llmxai-readout">(hover over or tap a token)</div>'
            f'<script type="application/json" class="llmxai-data">{payload}</script></div>')
