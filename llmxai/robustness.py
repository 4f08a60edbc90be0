"""Run the book's notebooks under other CPU kernels and other seeds: ``python -m llmxai.robustness``.

A chapter may only assert what is a property of the method. Floating-point results differ
between instruction sets (AVX-512, AVX2, the portable kernels, Apple's), and training
trajectories differ between seeds, so this command executes every notebook under each
configuration, each with a fresh model cache, and prints a table of notebook x
configuration naming every assertion that fails:

``native``   the kernels torch picks on this CPU
``default``  ``ATEN_CPU_CAPABILITY=default``: the portable kernels, no vector instructions
``avx2``     ``ATEN_CPU_CAPABILITY=avx2`` (x86 only)
``seedK``    ``LLMXAI_SEED_OFFSET=K``: every seed shifted, shared models retrained

It needs the notebook runner of the ``test`` extra (``nbclient``, ``nbformat``, ``ipykernel``).
The tests use :func:`execute` to run each chapter once and build the book from its outputs.
"""

import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

CONFIGS = {
    "native": {},
    "default": {"ATEN_CPU_CAPABILITY": "default"},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "seed1": {"LLMXAI_SEED_OFFSET": "1"},
    "seed2": {"LLMXAI_SEED_OFFSET": "2"},
    "seed3": {"LLMXAI_SEED_OFFSET": "3"},
}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def config_env(name, cache):
    """The environment for configuration ``name``: this one, plus its variables and a cache of its own."""
    if name not in CONFIGS:
        raise ValueError(f"configuration: expected one of {sorted(CONFIGS)}, got {name!r}")
    env = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "LLMXAI_SEED_OFFSET")}
    env.update(CONFIGS[name], LLMXAI_CACHE=str(cache), PYTHONHASHSEED="0")
    return env


def _failure(err):
    """(error line, source line) of a cell error: e.g. ('AssertionError: ...', 'assert gap < 1e-3')."""
    text = _ANSI.sub("", str(err))
    arrows = [line.split("---->", 1)[1].strip() for line in text.splitlines() if "---->" in line]
    source = re.sub(r"^\d+\s*", "", arrows[-1]) if arrows else ""
    ename, evalue = getattr(err, "ename", type(err).__name__), getattr(err, "evalue", "")
    return f"{ename}: {evalue}".strip().rstrip(":"), source


def _numpy_glue(nb):
    """Names glued with a numpy scalar: numpy 2 writes 'np.float64(...)', which {glue:text}`name:.3f` cannot read."""
    bad = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            name = o.get("metadata", {}).get("scrapbook", {}).get("name")
            if name and any(str(v).startswith("np.") for k, v in o.get("data", {}).items() if k.endswith("text/plain")):
                bad.append(name)
    return bad


def _run_one(path, out, timeout):
    """Execute one notebook in this process's environment; print one JSON line with the result."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    path = pathlib.Path(path)
    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    result = {"notebook": str(path), "ok": True, "error": "", "line": ""}
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
        result.update(ok=False, **dict(zip(("error", "line"), _failure(err))))
    result["seconds"] = time.perf_counter() - started
    numpy_glue = _numpy_glue(nb)
    if result["ok"] and numpy_glue:
        result.update(ok=False, error=f"glue stores a numpy repr the book cannot format: {numpy_glue}",
                      line="glue(name, float(value)) stores a number")
    if out:
        nbformat.write(nb, out)
    print(json.dumps(result), flush=True)


def execute(notebooks, config="native", *, jobs=2, timeout=300, save_to=None, cache=None, progress=None):
    """Execute ``notebooks`` under ``config``, ``jobs`` at a time, each in a fresh kernel.

    Returns one dict per notebook: ``notebook``, ``ok``, ``error`` (e.g. ``AssertionError:``),
    ``line`` (the source line that raised), ``seconds``. With ``save_to`` the executed
    notebooks are written there under their own names. All notebooks of one call share
    one model cache (``cache``, default a fresh temporary folder).
    """
    notebooks = [pathlib.Path(p) for p in notebooks]
    missing = [str(p) for p in notebooks if not p.is_file()]
    if missing:
        raise ValueError(f"notebooks: expected .ipynb files, got missing paths {missing}")
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"jobs: expected an int >= 1, got {jobs!r}")
    with tempfile.TemporaryDirectory(prefix=f"llmxai-{config}-") as tmp:
        env = config_env(config, cache or tmp)
        # The jobs share the cores: more torch threads than cores make small ops wait on each other.
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // jobs)))
        pending, running, results, retried = list(notebooks), [], {}, set()
        while pending or running:
            while pending and len(running) < jobs:
                nb = pending.pop(0)
                out = str(pathlib.Path(save_to) / nb.name) if save_to else ""
                cmd = [sys.executable, "-m", "llmxai.robustness", "--one", str(nb), "--out", out,
                       "--timeout", str(timeout)]
                running.append((nb, subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                     text=True)))
            time.sleep(0.2)
            for nb, proc in list(running):
                if proc.poll() is None:
                    continue
                running.remove((nb, proc))
                stdout, stderr = proc.communicate()
                lines = [line for line in stdout.splitlines() if line.startswith("{")]
                if not lines and nb not in retried:  # the runner itself failed (a kernel that did not start): once more
                    retried.add(nb)
                    pending.insert(0, nb)
                    continue
                results[nb] = json.loads(lines[-1]) if lines else {
                    "notebook": str(nb), "ok": False, "seconds": float("nan"), "line": "",
                    "error": f"the runner failed (exit {proc.returncode}): {stderr.strip().splitlines()[-1:]}"}
                if progress:
                    progress(config, results[nb])
    return [results[nb] for nb in notebooks]


def table(results):
    """Text table: one row per notebook, one column per configuration, then every failure in full."""
    configs = list(results)
    names = [pathlib.Path(r["notebook"]).stem for r in results[configs[0]]]
    width = max(len(n) for n in names + ["notebook"])
    rows = [f"{'notebook':<{width}}  " + "  ".join(f"{c:>12}" for c in configs)]
    failures = []
    for i, name in enumerate(names):
        cells = []
        for c in configs:
            r = results[c][i]
            cells.append(f"{'ok' if r['ok'] else 'FAIL'} {r['seconds']:5.0f}s")
            if not r["ok"]:
                failures.append(f"{name} [{c}]: {r['error']}" + (f"\n    at: {r['line']}" if r["line"] else ""))
        rows.append(f"{name:<{width}}  " + "  ".join(f"{cell:>12}" for cell in cells))
    return "\n".join(rows + ([""] + failures if failures else []))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m llmxai.robustness", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", help="notebooks to run (default: book/*.ipynb and lessons/*.ipynb)")
    parser.add_argument("--configs", default=",".join(CONFIGS),
                        help=f"comma-separated, from {', '.join(CONFIGS)} (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks run at once (default 2)")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per cell before it counts as failed")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--out", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        _run_one(args.one, args.out, args.timeout)
        return 0
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown or not configs:
        parser.error(f"--configs: expected names from {', '.join(CONFIGS)}, got {args.configs!r}")
    if args.jobs < 1:
        parser.error(f"--jobs: expected an int >= 1, got {args.jobs}")
    notebooks = args.notebooks or sorted(pathlib.Path("book").glob("*.ipynb")) + sorted(
        pathlib.Path("lessons").glob("*.ipynb"))
    if not notebooks:
        parser.error("expected notebooks: give paths, or run from the repository root (book/, lessons/)")
    try:
        import nbclient  # noqa: F401
    except ImportError:
        parser.error("the notebook runner is missing: pip install -e '.[test]'")
    started = time.perf_counter()
    results = {}
    for c in configs:
        print(f"{c}: running {len(notebooks)} notebooks ...", flush=True)
        results[c] = execute(notebooks, c, jobs=args.jobs, timeout=args.timeout,
                             progress=lambda c, r: print(f"  [{c}] {'ok  ' if r['ok'] else 'FAIL'} "
                                                         f"{r['seconds']:5.1f}s {r['notebook']}", flush=True))
    print()
    print(table(results))
    n_fail = sum(not r["ok"] for rs in results.values() for r in rs)
    print(f"\n{sum(len(rs) for rs in results.values()) - n_fail} passed, {n_fail} failed "
          f"({len(notebooks)} notebooks x {len(configs)} configurations) in {time.perf_counter() - started:.0f} s")
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
