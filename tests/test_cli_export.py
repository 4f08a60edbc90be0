"""`llmxai lessons export` never loses data, and a bad notebook or folder gets one line naming it."""

import contextlib
import io
import json

import pytest

from llmxai.cli import main as cli


def notebook(cells):
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


SOLVED = notebook([{"cell_type": "code", "source": "### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n",
                    "metadata": {"nbgrader": {"grade": False, "grade_id": "a", "locked": False, "schema_version": 3,
                                              "solution": True}},
                    "outputs": [], "execution_count": None}])


def export(src, out, *extra):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as info:
        cli(["lessons", "export", "--src", str(src), "--out", str(out), *extra])
    return info.value.code, err.getvalue()


@pytest.fixture
def lessons(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.ipynb").write_text(SOLVED)
    return src


def test_export_refuses_to_write_over_its_sources(lessons):
    code, _ = export(lessons, lessons)
    assert "is the --src folder" in str(code)
    assert (lessons / "a.ipynb").read_text() == SOLVED


def test_export_refuses_to_overwrite_a_users_notebook_unless_forced(lessons, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.ipynb").write_text("my own work")
    code, _ = export(lessons, out)
    assert "refusing to overwrite" in str(code) and "--force" in str(code)
    assert (out / "a.ipynb").read_text() == "my own work"
    cli(["lessons", "export", "--src", str(lessons), "--out", str(out), "--force"])
    assert "NotImplementedError" in (out / "a.ipynb").read_text()
    cli(["lessons", "export", "--src", str(lessons), "--out", str(out)])  # the same copy again loses nothing


@pytest.mark.parametrize("content, message", [
    ("not json", "expected a readable notebook"),
    (notebook([]), "expected a notebook with cells, got none"),
    (json.dumps({"nbformat": 4}), "expected a notebook with cells"),
    (notebook([{"cell_type": "code"}]), "cell 0: expected a code, markdown or raw cell with a source"),
])
def test_export_names_a_broken_notebook_in_one_line(tmp_path, content, message):
    src = tmp_path / "src"
    src.mkdir()
    (src / "bad.ipynb").write_text(content)
    code, _ = export(src, tmp_path / "out")
    assert isinstance(code, str) and message in code and str(src / "bad.ipynb") in code and "\n" not in code
    assert not (tmp_path / "out").exists()


def test_export_names_an_out_that_is_a_file(lessons, tmp_path):
    (tmp_path / "file").write_text("x")
    code, _ = export(lessons, tmp_path / "file")
    assert "--out" in code and "expected a folder, got a file" in code
