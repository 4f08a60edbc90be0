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
