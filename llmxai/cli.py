"""The ``llmxai`` command: ``llmxai info`` and ``llmxai lessons export``."""

import argparse
import json
import pathlib
import re
import sys

SOLUTION = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION[ \t]*\n?", re.S | re.M)


def strip_solutions(source):
    """Replace each solution block with ``raise NotImplementedError`` at the block's indentation."""
    return SOLUTION.sub(lambda m: f'{m.group(1)}raise NotImplementedError("your code here")\n', source)


def export_lesson(src, dst):
    """Write a student copy of notebook ``src`` to ``dst``: solutions removed, outputs cleared."""
    nb = json.loads(pathlib.Path(src).read_text())
    for cell in nb["cells"]:
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code":
            text = strip_solutions(text)
            cell["outputs"], cell["execution_count"] = [], None
        cell["source"] = text
    pathlib.Path(dst).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def _info(_args):
    import torch

    from llmxai import __version__, get_device

    print(f"llmxai {__version__}, torch {torch.__version__}, device {get_device()}")


def _export(args):
    src, out = pathlib.Path(args.src), pathlib.Path(args.out)
    lessons = sorted(src.glob("*.ipynb"))
    if not lessons:
        sys.exit(f"no lesson notebooks (*.ipynb) found in {src}")
    out.mkdir(parents=True, exist_ok=True)
    for path in lessons:
        export_lesson(path, out / path.name)
        print(f"wrote {out / path.name}")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="llmxai", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="versions and the device llmxai will use").set_defaults(run=_info)
    lessons = sub.add_parser("lessons", help="work with the lesson notebooks")
    lsub = lessons.add_subparsers(dest="action", required=True)
    export = lsub.add_parser("export", help="write student copies with the solutions removed")
    export.add_argument("--src", default="lessons", help="folder of lesson notebooks (default: lessons)")
    export.add_argument("--out", required=True, help="folder for the student copies")
    export.set_defaults(run=_export)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
