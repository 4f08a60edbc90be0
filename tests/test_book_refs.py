"""Citations: every key the book cites is in references.bib, and every entry is a real, findable work."""

import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIB = ROOT / "book" / "references.bib"
CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")


def book_texts():
    """(file name, markdown text) for every markdown file and notebook markdown cell in book/."""
    for path in sorted((ROOT / "book").rglob("*")):
        if "_build" in path.parts or ".ipynb_checkpoints" in path.parts:
            continue
        if path.suffix == ".md":
            yield path.name, path.read_text(encoding="utf8")
        elif path.suffix == ".ipynb":
            cells = json.loads(path.read_text(encoding="utf8"))["cells"]
            yield path.name, "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def bib_entries():
    """{key: {field: value}} from references.bib (a small parser for the plain entries we write)."""
    text = BIB.read_text(encoding="utf8")
    entries = {}
    for match in re.finditer(r"@(\w+)\s*\{\s*([^,\s]+)\s*,(.*?)\n\}", text, re.S):
        kind, key, body = match.groups()
        if key in entries:
            raise AssertionError(f"references.bib: key {key!r} appears twice")
        fields = dict((name.lower(), value.strip()) for name, value in
                      re.findall(r"(\w+)\s*=\s*(\{.*?\}|\"[^\"]*\"|\d+)\s*,?\s*$", body, re.M))
        entries[key] = {"type": kind.lower(), **{k: v.strip("{}\"") for k, v in fields.items()}}
    return entries


def cited_keys():
    return {(name, key.strip()) for name, text in book_texts()
            for group in CITE.findall(text) for key in group.split(",")}


def test_the_book_cites_something():
    assert cited_keys(), "expected {cite} roles in book/"


def test_every_cited_key_is_in_the_bibliography():
    entries = bib_entries()
    missing = sorted(f"{name}: {key}" for name, key in cited_keys() if key not in entries)
    assert not missing, "cited but not in references.bib:\n" + "\n".join(missing)


@pytest.mark.parametrize("key", sorted(bib_entries()))
def test_entry_has_doi_or_arxiv_id(key):
    entry = bib_entries()[key]
    for field in ("title", "author", "year"):
        assert entry.get(field), f"{key}: missing {field}"
    doi, eprint = entry.get("doi"), entry.get("eprint")
    assert doi or eprint, f"{key}: expected a doi or an eprint (arXiv id) field"
    if doi:
        assert re.fullmatch(r"10\.\d{4,9}/\S+", doi), f"{key}: {doi!r} is not a DOI"
    if eprint:
        assert re.fullmatch(r"\d{4}\.\d{4,5}(v\d+)?|[a-z\-]+(\.[A-Z]{2})?/\d{7}", eprint), \
            f"{key}: {eprint!r} is not an arXiv id"
