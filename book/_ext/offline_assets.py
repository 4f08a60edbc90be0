"""Sphinx extension: keep every page free of references to other hosts.

Jupyter Book 1.x always loads sphinx-thebe, which writes the address of a script on
unpkg.com into every page (fetched only when a reader starts a live kernel, a feature
this book turns off). The book must work offline, so those scripts are dropped, and any
other script or stylesheet that points at another host is reported as a warning, which
fails the ``-W`` build.
"""

from urllib.parse import urlparse

from sphinx.util import logging

logger = logging.getLogger(__name__)


def _is_remote(url):
    return bool(urlparse(str(url)).netloc)


def _drop_thebe_and_check(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files", [])
    kept = []
    for js in scripts:
        body = getattr(js, "attributes", {}).get("body", "") or ""
        if "THEBE_JS_URL" in body or str(getattr(js, "filename", "") or "").endswith("sphinx-thebe.js"):
            continue
        kept.append(js)
    scripts[:] = kept
    for asset in kept + list(context.get("css_files", [])):
        filename = getattr(asset, "filename", asset)
        if filename and _is_remote(filename):
            logger.warning("page %s loads %s from another host; the book must work offline",
                           pagename, filename, type="offline", location=pagename)


def setup(app):
    app.connect("html-page-context", _drop_thebe_and_check)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
