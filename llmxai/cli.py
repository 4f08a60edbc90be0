"""The ``llmxai`` command: ``llmxai info``, ``llmxai lessons export`` and ``llmxai train``."""

import argparse
import pathlib
import sys

from llmxai.lessons import student_copy

def _info(_args):
    import torch

    from llmxai import __version__, get_device

    print(f"llmxai {__version__}, torch {torch.__version__}, device {get_device()}")


def _export(args):
    """Check everything first, then write: a refused export leaves every file as it was."""
    src, out = pathlib.Path(args.src), pathlib.Path(args.out)
    if not src.is_dir():
        sys.exit(f"llmxai lessons export: --src {src}: expected a folder of lesson notebooks, got "
                 f"{'a file' if src.exists() else 'nothing there'}")
    lessons = sorted(src.glob("*.ipynb"))
    if not lessons:
        sys.exit(f"llmxai lessons export: no lesson notebooks (*.ipynb) found in {src}")
    if out.exists() and not out.is_dir():
        sys.exit(f"llmxai lessons export: --out {out}: expected a folder, got a file")
    if out.resolve() == src.resolve():
        sys.exit(f"llmxai lessons export: --out {out} is the --src folder; the student copies would overwrite "
                 "the notebooks with their solutions. Choose another folder")
    try:
        copies = {out / path.name: student_copy(path) for path in lessons}
    except ValueError as e:
        sys.exit(f"llmxai lessons export: {e}")
    taken = [str(p) for p, text in copies.items() if p.exists() and not _holds(p, text)]
    if taken and not args.force:
        sys.exit(f"llmxai lessons export: {taken[0]} exists and differs from the student copy"
                 f"{f' (and {len(taken) - 1} more)' if len(taken) > 1 else ''}; "
                 "refusing to overwrite it (pass --force to overwrite)")
    for path, text in copies.items():
        try:
            out.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as e:
            sys.exit(f"llmxai lessons export: {path}: could not write the student copy ({e.strerror or e})")
        print(f"wrote {path}")


def _holds(path, text):
    """Whether ``path`` already holds exactly ``text`` (rewriting it then loses nothing)."""
    try:
        return path.is_file() and path.read_text(encoding="utf-8") == text
    except (OSError, UnicodeDecodeError):
        return False


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
    export.add_argument("--force", action="store_true", help="overwrite student copies already in --out")
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
