"""The prose promises no chapter the book lacks: every pointer to another chapter is a link into the toc."""

import json
import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Words that point at another chapter; such a paragraph must carry a {doc} or {ref} link.
POINTER = re.compile(r"\b(later|coming|next|following|future|subsequent)\s+(chapter|part)s?\b"
                     r"|\bPart\s+(II|III|IV)\b|\bchapters?\s+(on|about)\b", re.I)
LINK = re.compile(r"\{doc\}`(?:[^`<]*<)?([^`>]+)>?`")


def _toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return {toc["root"]} | {c["file"] for part in toc.get("parts", []) for c in part.get("chapters", [])}


def _markdown(path):
    if path.suffix == ".md":
        return [path.read_text()]
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown"]


PAGES = sorted(f for f in _toc_files() if (ROOT / f"{f}.ipynb").exists() or (ROOT / f"{f}.md").exists())


def _path(page):
    return ROOT / f"{page}.ipynb" if (ROOT / f"{page}.ipynb").exists() else ROOT / f"{page}.md"


@pytest.mark.parametrize("page", PAGES)
def test_pointers_to_other_chapters_are_links(page):
    bare = []
    for text in _markdown(_path(page)):
        for para in re.split(r"\n\s*\n", text):
            if para.lstrip().startswith("#"):
                continue
            m = POINTER.search(para)
            if m and not re.search(r"\{(doc|ref)\}", para):
                bare.append(f"'{m.group(0)}' in: {' '.join(para.split())[:160]}")
    assert not bare, f"{page} points at chapters without a link (promise only what the toc holds):\n" + "\n".join(bare)


@pytest.mark.parametrize("page", PAGES)
def test_every_doc_link_is_a_page_of_the_toc(page):
    here = _path(page).parent.relative_to(ROOT)
    toc = _toc_files()
    missing = []
    for text in _markdown(_path(page)):
        for target in LINK.findall(text):
            resolved = target.lstrip("/") if target.startswith("/") else str((here / target).as_posix())
            if resolved not in toc:
                missing.append(target)
    assert not missing, f"{page} links to pages that are not in _toc.yml: {missing}"


def test_the_pointer_check_can_fail():
    assert POINTER.search("as a later chapter shows") and POINTER.search("see Part II")
    assert not POINTER.search("the next section derives it")
