"""llmxai.lessons makes nbgrader's student copy; every lesson is a valid nbgrader source notebook."""

import json
import pathlib
import re

import pytest

from llmxai import lessons

ROOT = pathlib.Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "lessons").glob("*.ipynb"))


def meta(gid, grade=False, solution=False, locked=False, points=None):
    m = {"grade": grade, "grade_id": gid, "locked": locked, "schema_version": 3, "solution": solution}
    if points is not None:
        m["points"] = points
    return {"nbgrader": m}


def cell(source, kind="code", metadata=None):
    c = {"cell_type": kind, "metadata": metadata or {}, "source": source}
    if kind == "code":
        c.update(outputs=[{"output_type": "stream", "name": "stdout", "text": "hi\n"}], execution_count=3)
    return c


def notebook(*cells):
    return {"cells": list(cells), "metadata": {"kernelspec": {"language": "python", "name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}


def test_strip_solutions_keeps_indentation_like_nbgrader():
    src = "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n\ncheck(f)\n"
    assert lessons.strip_solutions(src) == (
        "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\ncheck(f)\n")
    assert lessons.strip_solutions("### BEGIN SOLUTION\nIt is 4.\n### END SOLUTION", "markdown") == "YOUR ANSWER HERE"


def test_strip_hidden_tests_removes_the_region_and_its_markers():
    src = "assert f(1) == 1\n### BEGIN HIDDEN TESTS\nassert f(2) == 2\n### END HIDDEN TESTS\nprint('ok')"
    assert lessons.strip_hidden_tests(src) == "assert f(1) == 1\nprint('ok')"


@pytest.mark.parametrize("src, message", [
    ("### BEGIN SOLUTION\nx = 1\n", "to close"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "nested"),
])
def test_broken_markers_are_refused(src, message):
    with pytest.raises(ValueError, match=message):
        lessons.strip_solutions(src)


def test_student_notebook_does_what_generate_assignment_does():
    nb = notebook(
        cell("# Title", "markdown"),
        cell("import math", metadata=meta("setup", locked=True)),
        cell("def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION", metadata=meta("f", solution=True)),
        cell("x = 41 + 1", metadata=meta("whole", solution=True)),
        cell("assert f(1) == 1\n### BEGIN HIDDEN TESTS\nassert f(2) == 2\n### END HIDDEN TESTS",
             metadata=meta("f_tests", grade=True, locked=True, points=2)),
        cell("Because.", "markdown", meta("why", grade=True, solution=True, points=1)),
    )
    before = json.dumps(nb)
    out = lessons.student_notebook(nb)
    assert json.dumps(nb) == before, "the source notebook is not modified"
    src = [c["source"] for c in out["cells"]]
    assert src == ["# Title", "import math", "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()",
                   lessons.CODE_STUB, "assert f(1) == 1", lessons.TEXT_STUB]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in out["cells"] if c["cell_type"] == "code")
    m = [c["metadata"] for c in out["cells"]]
    assert m[0] == {}
    assert m[1]["deletable"] is False and m[1]["editable"] is False
    assert m[2]["deletable"] is False and "editable" not in m[2]
    assert m[4]["editable"] is False
    assert all(len(x["nbgrader"]["checksum"]) == 32 for x in m[1:])
    assert m[4]["nbgrader"]["checksum"] == lessons.checksum(out["cells"][4])
    assert lessons.points(nb) == {"f_tests": 2, "why": 1}


@pytest.mark.parametrize("bad, message", [
    (cell("x", metadata=meta("has space", solution=True)), "grade_id"),
    (cell("x", metadata=meta("t", grade=True, locked=True)), "points"),
    (cell("x", "markdown", meta("t", grade=True, points=1)), "markdown"),
    (cell("### BEGIN SOLUTION\nx\n### END SOLUTION"), "not marked as a solution cell"),
    (cell("### BEGIN HIDDEN TESTS\nx\n### END HIDDEN TESTS"), "grade cell"),
    (cell("x", metadata={"nbgrader": {**meta("t", solution=True)["nbgrader"], "schema_version": 2}}), "schema_version"),
    (cell("x", metadata={"nbgrader": {**meta("t", solution=True)["nbgrader"], "extra": 1}}), "unknown"),
])
def test_invalid_nbgrader_notebooks_are_refused_naming_the_cell(bad, message):
    with pytest.raises(ValueError, match=message) as info:
        lessons.student_notebook(notebook(cell("ok", "markdown"), bad))
    assert "cell 1" in str(info.value)


def test_duplicate_grade_ids_are_refused():
    nb = notebook(cell("a", metadata=meta("same", solution=True)), cell("b", metadata=meta("same", solution=True)))
    with pytest.raises(ValueError, match="used twice"):
        lessons.student_notebook(nb)


def test_export_never_writes_over_its_source(tmp_path):
    src = tmp_path / "a.ipynb"
    src.write_text(json.dumps(notebook(cell("x = 1", metadata=meta("x", solution=True)))))
    with pytest.raises(ValueError, match="other than the source"):
        lessons.export_lesson(src, src)
    lessons.export_lesson(src, tmp_path / "b.ipynb")
    assert "NotImplementedError" in (tmp_path / "b.ipynb").read_text()
    (tmp_path / "bad.ipynb").write_text("not json")
    with pytest.raises(ValueError, match="bad.ipynb"):
        lessons.student_copy(tmp_path / "bad.ipynb")


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_lesson_is_a_valid_nbgrader_source_with_its_points_stated(path):
    nb = json.loads(path.read_text())
    lessons.validate(nb)
    student = lessons.student_notebook(nb)
    text = "\n".join("".join(c["source"]) for c in student["cells"])
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    points = lessons.points(nb)
    graded_code = [g for g in points if g.endswith("_tests")]
    assert 3 <= len(graded_code) <= 6, "3 to 6 graded exercises"
    written = [c for c in nb["cells"] if c["cell_type"] == "markdown" and c["metadata"].get("nbgrader", {}).get("grade")]
    assert len(written) >= 1, "one open question with an answer cell"
    intro = "".join(nb["cells"][0]["source"])
    assert "You will be able to" in intro and re.search(r"Estimated time:\*\* \d+ minutes", intro)
    stated = re.search(r"Points:\*\* (\d+)", intro)
    assert stated and int(stated.group(1)) == sum(points.values()), f"{path.name}: the intro states the total points"
    # every exercise heading states its points
    for c in nb["cells"]:
        heading = re.match(r"## \d+\. .*\((\d+) points?", "".join(c["source"])) if c["cell_type"] == "markdown" else None
        if heading:
            assert int(heading.group(1)) in points.values()


def _chapters():
    """{chapter file stem: its title} for every chapter in _toc.yml that teaches (not the instructors' page)."""
    toc = (ROOT / "_toc.yml").read_text()
    out = {}
    for stem in re.findall(r"file: book/(\w+)", toc):
        if stem == "teaching":
            continue
        path = ROOT / "book" / f"{stem}.ipynb"
        if path.is_file():
            first = json.loads(path.read_text())["cells"][0]
            out[stem] = "".join(first["source"]).split("\n", 1)[0].lstrip("# ").strip()
    return out


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_each_lesson_states_what_an_instructor_needs(path):
    s = lessons.summary(path)  # raises when the stated points differ from the graded cells'
    assert s["objectives"] and 10 <= s["minutes"] <= 120 and s["auto"] > 0 and s["written"] > 0
    assert 3 <= sum(1 for c in lessons.read(path)["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade")) <= 7


def test_every_chapter_has_a_lesson_and_prerequisites_are_lessons():
    summaries = {s["name"]: s for s in map(lessons.summary, LESSONS)}
    taught = {s["chapter"] for s in summaries.values()}
    missing = [stem for stem, title in _chapters().items() if title not in taught]
    assert not missing, f"chapters without a lesson: {missing}"
    for s in summaries.values():
        assert set(s["requires"]) <= set(summaries) - {s["name"]}, s
    done = set()  # the prerequisites form no cycle: every lesson can be taken after its prerequisites
    while len(done) < len(summaries):
        ready = {n for n, s in summaries.items() if n not in done and set(s["requires"]) <= done}
        assert ready, f"prerequisites form a cycle among {sorted(set(summaries) - done)}"
        done |= ready


def test_summary_names_what_is_missing(tmp_path):
    bad = tmp_path / "x.ipynb"
    bad.write_text(json.dumps(notebook(cell("# Lesson 9: x\n\nNo more.", "markdown"))))
    with pytest.raises(ValueError, match="chapter, minutes, points, objectives"):
        lessons.summary(bad)
    good = ("# Lesson 9: x\n\nCompanion to the chapter *X*.\n\n**You will be able to**\n- do a;\n- do b.\n\n"
            "**Estimated time:** 30 minutes. **Points:** 5 (3 checked automatically, 2 for the written answer).")
    nb = notebook(cell(good, "markdown"), cell("x = 1", metadata=meta("t", grade=True, locked=True, points=2)),
                  cell("A", "markdown", meta("w", grade=True, solution=True, points=2)))
    bad.write_text(json.dumps(nb))
    with pytest.raises(ValueError, match="states 5 points .3 \\+ 2., the graded cells give 4 .2 \\+ 2."):
        lessons.summary(bad)
    nb["cells"][1]["metadata"]["nbgrader"]["points"] = 3
    bad.write_text(json.dumps(nb))
    assert lessons.summary(bad) == {"name": "x", "title": "Lesson 9: x", "chapter": "X", "objectives": ["do a;", "do b."],
                                    "minutes": 30, "points": 5, "auto": 3, "written": 2, "requires": []}
