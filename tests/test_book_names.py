"""Every llmxai name the book uses exists, so chapters and library cannot drift apart."""

import ast
import importlib
import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "book").rglob("*.ipynb")
                   if "_build" not in p.parts and ".ipynb_checkpoints" not in p.parts)
DOTTED = re.compile(r"\bllmxai(?:\.[A-Za-z_]\w*)+")


def resolve(dotted):
    """Import the longest module prefix of ``dotted`` and look up the rest as attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ModuleNotFoundError(dotted)


def names_used(nb_path):
    """Dotted llmxai names imported or referenced in a notebook's code and prose."""
    cells = json.loads(nb_path.read_text(encoding="utf8"))["cells"]
    used = set()
    for cell in cells:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            used.update(DOTTED.findall(source))
            continue
        code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
        tree = ast.parse(code)
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "llmxai":
                for a in node.names:
                    used.add(f"{node.module}.{a.name}")
                    aliases[a.asname or a.name] = f"{node.module}.{a.name}"
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.split(".")[0] == "llmxai":
                        used.add(a.name)
                        aliases[a.asname or a.name.split(".")[0]] = a.asname and a.name or a.name.split(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                chain, inner = [], node
                while isinstance(inner, ast.Attribute):
                    chain.append(inner.attr)
                    inner = inner.value
                if isinstance(inner, ast.Name) and inner.id in aliases:
                    used.add(".".join([aliases[inner.id], *reversed(chain)]))
        used.update(DOTTED.findall(source))
    return used


def test_the_book_uses_the_library():
    assert NOTEBOOKS and any(names_used(p) for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_llmxai_name_exists(path):
    missing = []
    for dotted in sorted(names_used(path)):
        try:
            resolve(dotted)
        except (ImportError, AttributeError) as err:
            missing.append(f"{dotted} ({type(err).__name__}: {err})")
    assert not missing, f"{path.name} uses llmxai names that do not exist:\n" + "\n".join(missing)


def test_the_checker_notices_a_missing_name():
    with pytest.raises(AttributeError):
        resolve("llmxai.nn.no_such_function")
    with pytest.raises(ModuleNotFoundError):
        resolve("nonexistent_package_xyz.thing")
