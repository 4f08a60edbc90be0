"""The ``llmxai`` command: ``llmxai info``, ``llmxai lessons export`` and ``llmxai train``."""

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


def _train(args):
    import os
    import time

    from tqdm import tqdm

    from llmxai.pretrained import known_pretrained, pretrained, ship

    known = known_pretrained()
    if args.all == bool(args.names):
        sys.exit(f"llmxai train: expected model names or --all, got {'both' if args.all else 'neither'}; "
                 f"known models: {', '.join(known)}")
    names = known if args.all else args.names
    unknown = [n for n in names if n not in known]
    if unknown:
        sys.exit(f"llmxai train: unknown model(s) {', '.join(unknown)}; known models: {', '.join(known)}")
    before = os.environ.get("LLMXAI_PROGRESS")
    os.environ["LLMXAI_PROGRESS"] = "1"  # each recipe's own training bar
    try:
        bar = tqdm(names, desc="models", unit="model")
        for name in bar:
            bar.set_postfix_str(name)
            if args.ship:
                r = ship(name)
                tqdm.write(f"{name}: shipped {r['bytes'] / 1e3:.0f} kB to {r['path']} in {r['seconds']:.1f} s")
            else:
                started = time.perf_counter()
                _, info = pretrained(name, retrain=True, device="cpu", return_info=True)
                tqdm.write(f"{name}: trained in {time.perf_counter() - started:.1f} s, saved to {info['path']}")
    finally:
        if before is None:
            os.environ.pop("LLMXAI_PROGRESS", None)
        else:
            os.environ["LLMXAI_PROGRESS"] = before


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
    train = sub.add_parser("train", help="train shared models from scratch into your cache")
    train.add_argument("names", nargs="*", help="models to train (see --all)")
    train.add_argument("--all", action="store_true", help="train every shared model")
    train.add_argument("--ship", action="store_true",
                       help="for maintainers: write the weights into the package (llmxai/weights) instead")
    train.set_defaults(run=_train)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
