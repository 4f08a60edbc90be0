"""Execute every chapter once, build the book from those outputs, then read it in a real, offline browser.

Each chapter in ``_toc.yml`` is executed once per test session, two at a time, by
:func:`llmxai.robustness.execute` with a fresh model cache; ``test_chapter_executes`` reports
each chapter on its own, naming the assertion that failed. The book is then built with
``-W`` from a copy of the sources holding the executed notebooks (execution off), so no
chapter runs twice. The browser is Debian's Chromium driven by Playwright; every request to
another host is blocked and recorded, so a page that needs the network fails here.
"""

import functools
import http.server
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import threading
import time
from urllib.parse import unquote, urljoin, urlparse

import pytest
import yaml

from llmxai.robustness import execute
from conftest import offline

ROOT = pathlib.Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"


def _toc_notebooks():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc.get("parts", []) for c in part.get("chapters", [])]
    return [f for f in files if (ROOT / f"{f}.ipynb").exists()]


CHAPTERS = _toc_notebooks()
# The CPU kernels to run the chapters under: the portable ones when this run asks for them (CI does).
CONFIG = "default" if os.environ.get("ATEN_CPU_CAPABILITY") == "default" else "native"


def _jupyter_book():
    exe = pathlib.Path(sys.executable).parent / "jupyter-book"
    return str(exe) if exe.exists() else shutil.which("jupyter-book")


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Every chapter executed once (CONFIG's kernels, fresh cache): {chapter: result}, and the folder of outputs."""
    out = tmp_path_factory.mktemp("executed")
    start = time.perf_counter()
    results = execute([ROOT / f"{c}.ipynb" for c in CHAPTERS], CONFIG, jobs=2, save_to=out,
                      cache=tmp_path_factory.mktemp("model-cache"))
    print(f"executed {len(CHAPTERS)} chapters ({CONFIG} kernels) in {time.perf_counter() - start:.1f} s: " +
          ", ".join(f"{pathlib.Path(r['notebook']).stem} {r['seconds']:.1f} s" for r in results))
    return dict(zip(CHAPTERS, results)), out


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_executes(executed, chapter):
    r = executed[0][chapter]
    assert r["ok"], f"{chapter}: {r['error']}\n    at: {r['line']}"


@pytest.fixture(scope="module")
def built_book(executed, tmp_path_factory):
    """Build into _build/html with -W from the executed chapters; return (seconds, log)."""
    results, outputs = executed
    failed = [c for c, r in results.items() if not r["ok"]]
    if failed:
        pytest.fail(f"not building the book: chapters failed to execute: {failed}")
    site = tmp_path_factory.mktemp("site")
    shutil.copytree(ROOT / "book", site / "book")
    shutil.copy(ROOT / "_toc.yml", site / "_toc.yml")
    for c in CHAPTERS:
        shutil.copy(outputs / f"{pathlib.Path(c).name}.ipynb", site / f"{c}.ipynb")
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config.setdefault("execute", {})["execute_notebooks"] = "off"
    (site / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    start = time.perf_counter()
    proc = subprocess.run(
        [_jupyter_book(), "build", str(site), "--path-output", str(ROOT), "-W", "-n", "--keep-going"],
        cwd=site, env=env, capture_output=True, text=True, timeout=900,
    )
    seconds = time.perf_counter() - start
    log = proc.stdout + proc.stderr
    (ROOT / "_build").mkdir(exist_ok=True)
    (ROOT / "_build" / "book-build.log").write_text(log)
    print(f"book build from executed chapters: {seconds:.1f} s")
    assert proc.returncode == 0, f"jupyter-book build failed (exit {proc.returncode}):\n{log[-6000:]}"
    return seconds, log


def test_build_succeeds_without_warnings(built_book):
    _, log = built_book
    warnings = [line for line in log.splitlines() if re.search(r"\bWARNING\b", line) and "[IPKernelApp]" not in line]
    assert not warnings, "build warnings:\n" + "\n".join(warnings)
    assert (HTML / "book" / "attention.html").exists()
    assert (HTML / "_static" / "mathjax" / "tex-chtml.js").exists(), "MathJax must be served from _static"


def test_pages_reference_no_other_host(built_book):
    """Static check of every page's scripts, styles and images (links to papers are fine)."""
    offenders = []
    for page in _pages():
        text = page.read_text(encoding="utf8")
        for tag, attr, url in re.findall(r"<(script|link|img|iframe|source)\b[^>]*?\b(src|href)=\"([^\"]+)\"", text):
            if urlparse(url).netloc:
                offenders.append(f"{page.relative_to(HTML)}: <{tag} {attr}={url}>")
        offenders += [f"{page.relative_to(HTML)}: {u}" for u in re.findall(r"https?://[^\"']*unpkg[^\"']*", text)]
    assert not offenders, "pages load assets from other hosts:\n" + "\n".join(offenders)


def _pages():
    return sorted(p for p in HTML.rglob("*.html")
                  if not {"_static", "_sources", "_images"} & set(p.relative_to(HTML).parts))


@pytest.fixture(scope="module")
def server(built_book):
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


# Text outside code blocks must hold no TeX delimiters once MathJax has run.
_VISIBLE_TEXT = """() => {
  const body = document.querySelector('main') || document.body;
  const copy = body.cloneNode(true);
  copy.querySelectorAll('pre, code, script, style, mjx-container, mjx-assistive-mml').forEach(e => e.remove());
  return copy.textContent;
}"""

_PAGE_FACTS = """() => ({
  math: document.querySelectorAll('.math').length,
  typeset: document.querySelectorAll('mjx-container').length,
  errors: document.querySelectorAll('mjx-merror').length,
  brokenImages: Array.from(document.images)
    .filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src')),
  images: document.images.length,
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href')),
})"""


@pytest.fixture(scope="module")
def visited(server, browser):
    """Open every page once; return {page path: facts}, foreign requests, failed local requests."""
    foreign, failed = [], []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    context.on("requestfailed", lambda r: None if r.url in foreign else failed.append(f"failed {r.url}"))
    offline(context, server, foreign)
    facts = {}
    for path in _pages():
        rel = path.relative_to(HTML).as_posix()
        page = context.new_page()
        page.goto(f"{server}/{rel}", wait_until="load")
        page.wait_for_load_state("networkidle")
        has_mathjax = page.evaluate("() => Boolean(window.MathJax && window.MathJax.startup)")
        if has_mathjax:
            page.wait_for_function("() => window.MathJax.startup.promise !== undefined")
            page.evaluate("() => window.MathJax.startup.promise")
        info = page.evaluate(_PAGE_FACTS)
        info["mathjax"] = has_mathjax
        info["url"] = page.url  # index.html redirects; links resolve against where we landed
        info["text"] = page.evaluate(_VISIBLE_TEXT)
        if rel == "book/attention.html":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "attention.png"), full_page=True)
        facts[rel] = info
        page.close()
    context.close()
    return facts, foreign, failed


def test_every_page_was_opened(visited):
    facts, _, _ = visited
    assert "book/attention.html" in facts and "index.html" in facts


def test_no_request_leaves_the_machine(visited):
    _, foreign, _ = visited
    assert not foreign, "pages requested other hosts:\n" + "\n".join(sorted(set(foreign)))


def test_every_local_request_succeeds(visited):
    """Scripts, styles, MathJax's fonts and images all come back from the local server."""
    _, _, failed = visited
    assert not failed, "requests that failed:\n" + "\n".join(sorted(set(failed)))


def test_math_is_typeset(visited):
    facts, _, _ = visited
    assert facts["book/attention.html"]["math"] > 20, "the attention chapter should be full of math"
    for rel, info in facts.items():
        if info["math"]:
            assert info["mathjax"], f"{rel}: has math but MathJax did not load"
            assert info["typeset"] >= info["math"], f"{rel}: {info['math']} formulas, {info['typeset']} typeset"
        assert info["errors"] == 0, f"{rel}: MathJax reported {info['errors']} TeX errors"
        raw = [s for s in ("$$", "\\(", "\\)", "\\[", "\\]", "\\begin{", "\\frac") if s in info["text"]]
        assert not raw, f"{rel}: raw TeX left in the text: {raw}"


def test_every_image_loads(visited):
    facts, _, _ = visited
    assert facts["book/attention.html"]["images"] >= 3, "the attention chapter has at least three figures"
    for rel, info in facts.items():
        assert not info["brokenImages"], f"{rel}: images that did not load: {info['brokenImages']}"


def test_every_internal_link_resolves(visited, server):
    facts, _, _ = visited
    broken = []
    for rel, info in facts.items():
        base = info["url"]
        for href in info["links"]:
            url = urlparse(urljoin(base, href))
            if url.scheme in ("mailto", "javascript") or (url.netloc and f"{url.scheme}://{url.netloc}" != server):
                continue
            target = HTML / unquote(url.path).lstrip("/")
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{rel}: {href} (no file {target.relative_to(HTML)})")
                continue
            if url.fragment and target.suffix == ".html":
                ids = set(re.findall(r'\bid="([^"]+)"', target.read_text(encoding="utf8")))
                if unquote(url.fragment) not in ids:
                    broken.append(f"{rel}: {href} (no anchor #{url.fragment})")
    assert not broken, "broken internal links:\n" + "\n".join(broken)


def test_screenshot_of_the_attention_chapter(visited):
    shot = SCREENSHOTS / "attention.png"
    assert shot.is_file() and shot.stat().st_size > 50_000


def test_interactive_figure_on_the_built_page(server, browser):
    """Hovering a token of the real-model chapter's figure shows the attention embedded in the page."""
    page_path = HTML / "book" / "real_model.html"
    assert page_path.stat().st_size < 1_000_000
    context, foreign = browser.new_context(), []
    offline(context, server, foreign)
    page = context.new_page()
    page.goto(f"{server}/book/real_model.html", wait_until="load")
    page.wait_for_selector(".llmxai-token-figure[data-ready]", timeout=10_000)
    data = json.loads(page.evaluate(
        "() => document.querySelector('.llmxai-token-figure script.llmxai-data').textContent"))
    attention = data["attention"]  # [layer][head][query][key]
    for layer, head, query in [(data["layer"], data["head"], len(data["tokens"]) - 1), (len(attention) - 1, 0, 2)]:
        page.select_option(".llmxai-mode", "attention")
        page.select_option(".llmxai-layer", str(layer))
        page.select_option(".llmxai-head", str(head))
        page.locator(".llmxai-token").nth(query).hover()
        shown = page.evaluate("""() => Array.from(document.querySelectorAll('.llmxai-token-figure .llmxai-token'))
            .map(s => parseFloat(s.getAttribute('data-value')))""")
        want = attention[layer][head][query]
        assert len(shown) == len(want) and max(abs(a - b) for a, b in zip(shown, want)) < 6e-5
    context.close()
    assert not foreign
