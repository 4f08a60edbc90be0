"""The real nbgrader (0.9) round trip on every lesson.

``nbgrader generate_assignment`` on all lessons (one assignment), then ``nbgrader autograde`` on
three submissions: the solutions (full points on every autograded cell, and no error in any
cell: this is the suite's run of the lessons), the released student
copies left unanswered (zero, and no crash), and one common mistake per lesson (partial points,
the grader's hint in the feedback). The student copies nbgrader releases must equal those of
:mod:`llmxai.lessons` (what ``llmxai lessons export`` writes).

nbgrader and its Jupyter server stack live in their own environment, ``.venv-nbgrader``
(created on first use, then reused); the kernels that run the lessons are this interpreter,
with llmxai and its pinned torch. If nbgrader cannot be installed the test is skipped and says why.
"""

import fcntl
import html
import json
import os
import pathlib
import runpy
import shutil
import subprocess
import sys
import tempfile
import time
import venv

import pytest

from llmxai import lessons

ROOT = pathlib.Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "lessons").glob("*.ipynb"))
NBGRADER = "nbgrader==0.9.6"
VENV = ROOT / ".venv-nbgrader"
ASSIGNMENT = "lessons"


def _mistakes():
    """One common mistake per lesson, from ``tests/lesson_mistakes/<lesson>.py``:
    ``{lesson: (answer cell's grade_id, the wrong answer, words of the hint)}``."""
    out = {}
    for path in sorted((ROOT / "tests" / "lesson_mistakes").glob("*.py")):
        ns = runpy.run_path(str(path))
        out[path.stem] = (ns["GRADE_ID"], ns["ANSWER"], ns["HINT"])
    return out


MISTAKES = _mistakes()


def _nbgrader_python():
    """The nbgrader environment's python, installing it on first use; None (and why) if that fails."""
    python, marker = VENV / "bin" / "python", VENV / ".installed"
    with open(pathlib.Path(tempfile.gettempdir()) / "llmxai-venv-nbgrader.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test sessions must not build it at once
        if marker.is_file() and marker.read_text() == NBGRADER and python.exists():
            return python, ""
        shutil.rmtree(VENV, ignore_errors=True)
        try:
            venv.create(VENV, with_pip=True)
            done = subprocess.run([str(python), "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints.txt"),
                                   NBGRADER], capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.SubprocessError) as e:
            return None, f"could not create {VENV.name}: {e}"
        if done.returncode != 0:
            return None, f"pip install {NBGRADER} failed: {(done.stderr or done.stdout).strip()[-500:]}"
        marker.write_text(NBGRADER)
        return python, ""


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course folder after generate_assignment and autograde, with the timings of each step."""
    started = time.perf_counter()
    python, why = _nbgrader_python()
    if python is None:
        print(f"skipping the nbgrader round trip: {why}")
        pytest.skip(why)
    installed = time.perf_counter()
    root = tmp_path_factory.mktemp("course")
    jupyter = root / "jupyter"
    kernel = jupyter / "kernels" / "python3"  # found before the nbgrader environment's own kernel
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (llmxai)", "language": "python"}))
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(root / 'gradebook.db')!r}\n"
        "c.Execute.timeout = 300\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "PYTHONPATH"))}
    env.update(JUPYTER_PATH=str(jupyter), JUPYTER_CONFIG_DIR=str(root / "config"),
               JUPYTER_RUNTIME_DIR=str(root / "runtime"), JUPYTER_DATA_DIR=str(root / "data"),
               PATH=os.pathsep.join([str(python.parent), env.get("PATH", "")]))  # nbgrader runs `alembic`

    def nbgrader(*args):
        done = subprocess.run([str(python), "-m", "nbgrader", *args], cwd=root, env=env,
                              capture_output=True, text=True, timeout=1200)
        assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    source = root / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    for path in LESSONS:
        shutil.copy(path, source / path.name)
    nbgrader("generate_assignment", ASSIGNMENT, "--force")
    release = root / "release" / ASSIGNMENT

    for student in ("solution", "blank", "mistake"):
        (root / "submitted" / student / ASSIGNMENT).mkdir(parents=True)
    for path in LESSONS:
        shutil.copy(path, root / "submitted" / "solution" / ASSIGNMENT / path.name)
        shutil.copy(release / path.name, root / "submitted" / "blank" / ASSIGNMENT / path.name)
        nb = json.loads(path.read_text())
        grade_id, wrong, _ = MISTAKES[path.stem]
        cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)
        cell["source"] = wrong.strip("\n")
        (root / "submitted" / "mistake" / ASSIGNMENT / path.name).write_text(json.dumps(nb))
    generated = time.perf_counter()
    nbgrader("autograde", ASSIGNMENT, "--force")
    autograded = time.perf_counter()
    nbgrader("generate_feedback", ASSIGNMENT, "--student", "mistake", "--force")
    dump = subprocess.run([str(python), "-c", SCORES, str(root / "gradebook.db"), ASSIGNMENT],
                          capture_output=True, text=True, env=env, timeout=120)
    assert dump.returncode == 0, dump.stderr
    finished = time.perf_counter()
    timing = {"install": installed - started, "generate": generated - installed,
              "autograde": autograded - generated, "feedback": finished - autograded,
              "total": finished - started}
    scores = json.loads(dump.stdout)
    print("nbgrader round trip, seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in timing.items()))
    for student, notebooks in sorted(scores.items()):
        print(f"{student}: " + "; ".join(
            f"{name} {sum(g['score'] or 0 for g in grades.values()):g}/{sum(g['max'] for g in grades.values()):g}"
            f" ({sum(g['manual'] for g in grades.values())} to grade by hand)" for name, grades in sorted(notebooks.items())))
    return {"root": root, "release": release, "scores": scores, "timing": timing}


# Run inside the nbgrader environment: every grade of every submission, as JSON.
SCORES = """
import json, sys
from nbgrader.api import Gradebook
out = {}
with Gradebook("sqlite:///" + sys.argv[1]) as gb:
    for sub in gb.assignment_submissions(sys.argv[2]):
        for nb in sub.notebooks:
            out.setdefault(sub.student.id, {})[nb.name] = {
                g.name: {"score": g.score, "max": g.max_score, "manual": g.needs_manual_grade,
                         "type": g.cell.cell_type} for g in nb.grades}
print(json.dumps(out))
"""


def test_there_are_lessons():
    assert LESSONS and {p.stem for p in LESSONS} == set(MISTAKES), "every lesson needs a mistake variant here"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_released_copy_equals_llmxai_export(course, path):
    released = json.loads((course["release"] / path.name).read_text())
    ours = json.loads(lessons.student_copy(path))
    assert [c["source"] for c in ours["cells"]] == [c["source"] for c in released["cells"]]
    assert ours["cells"] == released["cells"]
    assert ours["metadata"] == released["metadata"]


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_solution_gets_every_automatic_point(course, path):
    grades = course["scores"]["solution"][path.stem]
    auto = {k: g for k, g in grades.items() if g["type"] == "code"}
    written = {k: g for k, g in grades.items() if g["type"] == "markdown"}
    assert auto and all(g["score"] == g["max"] > 0 for g in auto.values()), auto
    assert all(g["manual"] for g in written.values()), "written answers wait for the instructor"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_solution_runs_without_an_error_in_any_cell(course, path):
    """The autograder's run of the solutions is the suite's run of the lessons: their other claims must hold too."""
    nb = json.loads((course["root"] / "autograded" / "solution" / ASSIGNMENT / path.name).read_text())
    errors = [(i, o.get("ename"), o.get("evalue")) for i, c in enumerate(nb["cells"]) for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors, errors


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_unanswered_copy_gets_zero(course, path):
    grades = course["scores"]["blank"][path.stem]
    assert grades and all(g["score"] == 0 for g in grades.values()), grades
    assert (course["root"] / "autograded" / "blank" / ASSIGNMENT / path.name).is_file()


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_a_common_mistake_gets_partial_points_and_its_hint(course, path):
    grade_id, _, hint = MISTAKES[path.stem]
    grades = course["scores"]["mistake"][path.stem]
    auto = {k: g for k, g in grades.items() if g["type"] == "code"}
    total, best = sum(g["score"] for g in auto.values()), sum(g["max"] for g in auto.values())
    assert 0 < total < best
    assert [k for k, g in auto.items() if g["score"] < g["max"]] == [f"{grade_id}_tests"]
    feedback = course["root"] / "feedback" / "mistake" / ASSIGNMENT / f"{path.stem}.html"
    assert hint in html.unescape(feedback.read_text())

