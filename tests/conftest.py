"""What several test files share: a headless, offline Chromium."""

import pathlib

import pytest

CHROMIUM = pathlib.Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright; skipped, saying why, where either is missing."""
    if not CHROMIUM.exists():
        print(f"skipping the browser checks: {CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("skipping the browser checks: the playwright package is not installed")
        pytest.skip("the playwright package is not installed")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def offline(context, origin, foreign):
    """Let ``context`` reach only ``origin`` (and data:, blob:, about:); record every other URL in ``foreign``."""
    from urllib.parse import urlparse

    def route(r):
        u = urlparse(r.request.url)
        if u.scheme in ("data", "blob", "about") or f"{u.scheme}://{u.netloc}" == origin:
            r.continue_()
        else:
            foreign.append(r.request.url)
            r.abort()

    context.route("**/*", route)


def skip(reason):
    """Skip the test and print why, so that the reason shows in the log as well as in the summary."""
    print(f"SKIPPED: {reason}")
    pytest.skip(reason)
