"""Lesson notebooks: an nbgrader source notebook in, the student copy out, without nbgrader.

The lessons in ``lessons/`` are nbgrader source notebooks (cell metadata schema version 3).
:func:`student_notebook` applies what ``nbgrader generate_assignment`` (0.9) does to one
notebook: lock cells, replace each solution with a stub, clear outputs, remove hidden tests,
record checksums. So an instructor without nbgrader gets, from ``llmxai lessons export``, the
same student copy that nbgrader would release (``tests/test_nbgrader.py`` compares the two).

Markers, one per line: solutions between ``### BEGIN SOLUTION`` and ``### END SOLUTION``
(in a code cell they become ``# YOUR CODE HERE`` + ``raise NotImplementedError()`` at the
marker's indentation; a solution cell without markers is replaced whole), hidden tests
between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` (removed).
"""

import copy
import hashlib
import json
import pathlib
import re

SCHEMA_VERSION = 3
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
SOLUTION = ("BEGIN SOLUTION", "END SOLUTION")
HIDDEN_TESTS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
_KEYS = {"schema_version", "grade", "locked", "solution", "task", "grade_id", "points", "checksum", "cell_type"}
_GRADE_ID = re.compile(r"^[a-zA-Z0-9_\-]*$")


def _cut(source, markers, stub):
    """``(source, found)``: every region between the two markers replaced by ``stub``'s lines.

    Line-based like nbgrader: a line containing the begin marker starts a region, and the stub
    takes that line's indentation; the line with the end marker closes it.
    """
    begin, end = markers
    lines, inside, found = [], False, False
    for line in source.split("\n"):
        if begin in line:
            if inside:
                raise ValueError(f"expected one {end!r} after each {begin!r}, got a nested {begin!r}")
            inside = found = True
            indent = re.match(r"\s*", line).group(0)
            lines += [indent + s for s in stub.split("\n")] if stub is not None else []
        elif end in line:
            inside = False
        elif not inside:
            lines.append(line)
    if inside:
        raise ValueError(f"expected {end!r} to close {begin!r}, got the end of the cell")
    return "\n".join(lines), found


def strip_solutions(source, cell_type="code"):
    """``source`` with each solution region replaced by the stub (code or text), indentation kept."""
    if not isinstance(source, str):
        raise TypeError(f"source: expected a cell's source text (str), got {type(source).__name__}")
    return _cut(source, SOLUTION, CODE_STUB if cell_type == "code" else TEXT_STUB)[0]


def strip_hidden_tests(source):
    """``source`` without its hidden test regions (marker lines included)."""
    if not isinstance(source, str):
        raise TypeError(f"source: expected a cell's source text (str), got {type(source).__name__}")
    return _cut(source, HIDDEN_TESTS, None)[0]


def _flags(cell):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")), bool(meta.get("solution")), bool(meta.get("locked"))


def checksum(cell):
    """nbgrader's checksum of a cell: md5 of source, type, flags, grade_id and points (as float)."""
    grade, solution, locked = _flags(cell)
    meta = cell["metadata"]["nbgrader"]
    parts = [cell["source"], cell["cell_type"], str(grade), str(solution), str(locked), meta["grade_id"]]
    if grade:
        parts.append(str(float(meta["points"])))
    m = hashlib.md5()
    for part in parts:
        m.update(part.encode("utf-8"))
    return m.hexdigest()


def validate(nb):
    """Raise ``ValueError`` naming the cell unless ``nb``'s nbgrader metadata is valid schema 3.

    The rules of nbgrader 0.9's ``MetadataValidatorV3``: schema version 3, known keys,
    ``grade``/``solution``/``locked`` booleans, a ``grade_id`` matching ``^[a-zA-Z0-9_-]*$``
    and unique where any flag is set, ``points >= 0`` on grade cells, and a markdown cell is
    graded exactly when it is a solution (a manually graded answer).
    """
    ids = set()
    for i, cell in enumerate(nb["cells"]):
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta is None:
            continue
        where = f"cell {i}"
        if not isinstance(meta, dict):
            raise ValueError(f"{where}: expected nbgrader metadata as a mapping, got {type(meta).__name__}")
        if meta.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"{where}: expected nbgrader schema_version {SCHEMA_VERSION}, "
                             f"got {meta.get('schema_version')!r}")
        if set(meta) - _KEYS:
            raise ValueError(f"{where}: unknown nbgrader metadata {sorted(set(meta) - _KEYS)}")
        for key in ("grade", "solution", "locked"):
            if not isinstance(meta.get(key), bool):
                raise ValueError(f"{where}: expected nbgrader.{key} true or false, got {meta.get(key)!r}")
        grade, solution, locked = meta["grade"], meta["solution"], meta["locked"]
        if not (grade or solution or locked):
            continue
        gid = meta.get("grade_id")
        if not isinstance(gid, str) or not gid or not _GRADE_ID.match(gid):
            raise ValueError(f"{where}: expected a grade_id of letters, digits, '_' or '-', got {gid!r}")
        if gid in ids:
            raise ValueError(f"{where}: grade_id {gid!r} is used twice; grade ids must be unique")
        ids.add(gid)
        points = meta.get("points")
        if grade and (isinstance(points, bool) or not isinstance(points, (int, float)) or not points >= 0):
            raise ValueError(f"{where} ({gid}): a graded cell needs points >= 0, got {points!r}")
        if cell["cell_type"] == "markdown" and not meta.get("task", False) and grade != solution:
            raise ValueError(f"{where} ({gid}): a markdown cell is graded exactly when it is a solution "
                             f"(a manually graded answer), got grade={grade}, solution={solution}")


def _source(cell, where):
    source = cell.get("source") if isinstance(cell, dict) else None
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        source = "".join(source)
    if not isinstance(source, str) or cell.get("cell_type") not in ("code", "markdown", "raw"):
        raise ValueError(f"{where}: expected a code, markdown or raw cell with a source, got {cell!r:.80}")
    return source


def student_notebook(nb):
    """The student copy of notebook ``nb`` (a dict, not modified), as nbgrader generate_assignment makes it.

    Raises ``ValueError`` naming the cell for invalid metadata, a solution region outside a
    solution cell or a hidden test region outside a grade cell (nbgrader refuses those too).
    """
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list) or not cells:
        raise ValueError(f"expected a notebook with cells, got {'none' if isinstance(cells, list) else 'no cell list'}")
    nb = copy.deepcopy(nb)
    for i, cell in enumerate(nb["cells"]):
        cell["source"] = _source(cell, f"cell {i}")
        cell.setdefault("metadata", {})
    validate(nb)
    language = nb.get("metadata", {}).get("kernelspec", {}).get("language", "python")
    if language != "python":
        raise ValueError(f"expected a Python notebook, got kernel language {language!r}")
    nb.get("metadata", {}).pop("celltoolbar", None)
    for i, cell in enumerate(nb["cells"]):
        where = f"cell {i}"
        grade, solution, locked = _flags(cell)
        meta = cell["metadata"]
        if solution:  # LockCells
            meta["deletable"] = False
        elif grade or locked:
            meta["deletable"] = meta["editable"] = False
        try:  # ClearSolutions
            source, replaced = _cut(cell["source"], SOLUTION, CODE_STUB if cell["cell_type"] == "code" else TEXT_STUB)
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None
        if replaced and not solution:
            raise ValueError(f"{where}: a solution region in a cell not marked as a solution cell "
                             "(set metadata nbgrader.solution to true)")
        if solution and not replaced:
            source = CODE_STUB if cell["cell_type"] == "code" else TEXT_STUB
        if cell["cell_type"] == "code":  # ClearOutput
            cell["outputs"], cell["execution_count"] = [], None
            meta.pop("collapsed", None)
            meta.pop("scrolled", None)
        try:  # ClearHiddenTests
            source, removed = _cut(source, HIDDEN_TESTS, None)
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None
        if removed and not grade:
            raise ValueError(f"{where}: a hidden test region in a cell not marked as a grade cell "
                             "(set metadata nbgrader.grade to true)")
        cell["source"] = source
        if grade or solution or locked:  # ComputeChecksums
            meta["nbgrader"]["checksum"] = checksum(cell)
            meta["nbgrader"]["cell_type"] = cell["cell_type"]
    return nb


def points(nb):
    """``{grade_id: points}`` of the graded cells of notebook ``nb`` (a dict), in order."""
    out = {}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade"):
            out[meta["grade_id"]] = meta["points"]
    return out


def dumps(nb):
    """JSON text of notebook ``nb`` as nbformat writes it (sorted keys, indent 1, sources split in lines)."""
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        if isinstance(cell.get("source"), str):
            cell["source"] = cell["source"].splitlines(True)
    return json.dumps(nb, indent=1, sort_keys=True, separators=(",", ": "), ensure_ascii=False) + "\n"


def read(src):
    """Notebook ``src`` as a dict; ``ValueError`` naming ``src`` when it is not a readable notebook."""
    src = pathlib.Path(src)
    try:
        nb = json.loads(src.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{src}: expected a readable notebook (JSON), got {type(e).__name__}: {e}") from None
    if not isinstance(nb, dict):
        raise ValueError(f"{src}: expected a notebook (a JSON object), got {type(nb).__name__}")
    return nb


def student_copy(src):
    """The JSON text of the student copy of notebook file ``src``; ``ValueError`` naming ``src`` if it cannot be made."""
    nb = read(src)
    try:
        return dumps(student_notebook(nb))
    except ValueError as e:
        raise ValueError(f"{src}: {e}") from None


def export_lesson(src, dst):
    """Write the student copy of notebook ``src`` to ``dst`` (never onto ``src`` itself)."""
    if pathlib.Path(dst).resolve() == pathlib.Path(src).resolve():
        raise ValueError(f"{dst}: expected a destination other than the source notebook; writing there would "
                         "delete its solutions")
    text = student_copy(src)
    pathlib.Path(dst).write_text(text, encoding="utf-8")


# What an instructor reads about a lesson: its first cell, its points, its prerequisites.

_MINUTES = re.compile(r"\*\*Estimated time:\*\*\s*(\d+)\s*minutes")
_POINTS = re.compile(r"\*\*Points:\*\*\s*(\d+)\s*\((\d+) checked automatically, (\d+) for the written answers?\)")
_CHAPTER = re.compile(r"Companion to the chapter \*(.+?)\*")


def summary(src):
    """``dict`` of lesson file ``src``: name, title, chapter, objectives, minutes, points (auto, written)
    from the metadata, and the lessons it ``requires`` (the list ``requires`` in the notebook metadata's ``llmxai`` entry).

    Read from the lesson's first cell, which states them for the student; ``ValueError`` names
    what is missing, and a stated number of points that differs from the graded cells' points.
    """
    src = pathlib.Path(src)
    nb = read(src)
    cells = nb.get("cells") or [{}]
    intro = "".join(cells[0].get("source", ""))
    title = intro.split("\n", 1)[0].lstrip("# ").strip()
    found = {"title": title if intro.startswith("# ") else None, "chapter": _CHAPTER.search(intro),
             "minutes": _MINUTES.search(intro), "points": _POINTS.search(intro)}
    missing = [k for k, v in found.items() if not v]
    objectives = re.findall(r"^- (.+(?:\n  .+)*)", intro.split("**You will be able to**", 1)[-1].split("**Estimated", 1)[0],
                            re.M) if "**You will be able to**" in intro else []
    if not objectives:
        missing.append("objectives")
    if missing:
        raise ValueError(f"{src}: expected the first cell to state the lesson's {', '.join(missing)} "
                         "(see lessons/README.md)")
    auto = written = 0
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade"):
            if cell.get("cell_type") == "markdown":
                written += meta["points"]
            else:
                auto += meta["points"]
    stated = tuple(int(g) for g in found["points"].groups())
    if stated != (auto + written, auto, written):
        raise ValueError(f"{src}: the first cell states {stated[0]} points ({stated[1]} + {stated[2]}), the graded "
                         f"cells give {auto + written} ({auto} + {written})")
    requires = nb.get("metadata", {}).get("llmxai", {}).get("requires", [])
    return {"name": src.stem, "title": title, "chapter": found["chapter"].group(1),
            "objectives": [" ".join(o.split()) for o in objectives], "minutes": int(found["minutes"].group(1)),
            "points": auto + written, "auto": auto, "written": written, "requires": list(requires)}
