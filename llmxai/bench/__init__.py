"""Benchmarks: ``python -m llmxai.bench`` measures llmxai against its references side by side.

Tables: speed (from-scratch attention, LSTM, multi-head attention and Adam against PyTorch's;
LRP against one forward + backward pass; Integrated Gradients and Grad-CAM against Captum),
peak memory, training (every pretrained recipe from scratch against its goal) and quality
(each explanation method's agreement with the sentiment task's known rationales, and its
deletion AOPC), and SmolLM2-135M (forward + backward and AttnLRP on 64 tokens against
``transformers``, peak memory, cold and warm load; skipped under ``--quick``). Speed and
memory run on the CPU and on CUDA when present; training and quality run once, on the first device. Speed is measured here, never asserted in tests.
"""

import argparse
import json
import math
import os
import platform
import time

import torch

from llmxai.bench import quality, speed, training
from llmxai.bench import smollm2 as smollm2_rows
from llmxai.device import get_device, seed_everything

SECTIONS = {
    "attention": speed.attention,
    "lstm": speed.lstm,
    "mha": speed.mha,
    "adam": speed.adam,
    "memory": speed.memory,
    "lrp": speed.lrp,
    "ig": speed.integrated_gradients,
    "gradcam": speed.grad_cam,
    "smollm2": smollm2_rows.smollm2,
    "training": training.training,
    "quality": quality.quality,
}
ONCE = {"training", "quality"}  # device-independent results: run on the first device only
GROUPS = {"speed": ["attention", "lstm", "mha", "adam", "lrp", "ig", "gradcam"]}


def _fmt(v, spec):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return format(v, spec)


def _met(ok):
    return "" if ok is None else ("met" if ok else "MISSED")


def _table(header, rows, align):
    """Aligned text: ``align`` holds '<' or '>' per column."""
    cells = [header] + rows
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(header))]
    lines = ["  ".join(f"{str(c):{a}{w}}" for c, a, w in zip(r, align, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _speed_cells(r):
    met = None if r["goal"] is None else r["ratio"] <= r["goal"]
    return [r["device"], r["case"], r["reference"], _fmt(r["ours_ms"], ".2f"), _fmt(r["ref_ms"], ".2f"),
            _fmt(r["ratio"], ".2f"), "" if r["goal"] is None else f"<= {r['goal']:g}", _met(met)]


def _memory_cells(r):
    return [r["device"], r["case"], r["reference"], _fmt(r["ours_mb"], ".1f"), _fmt(r["ref_mb"], ".1f"),
            _fmt(r["ratio"], ".2f")]


def _training_cells(r):
    return [r["model"], r["metric"], _fmt(r["value"], ".3f"), r["goal"] or "", _met(r["met"]),
            _fmt(r["seconds"], ".1f"), f"<= {r['seconds_goal']:g}", _met(r["seconds_met"])]


def _quality_cells(r):
    return [r["model"], r["method"], str(r["n"]), _fmt(r["auc"], ".3f"), _fmt(r["aopc"], ".3f"),
            _fmt(r["seconds"], ".2f")]


TABLES = {
    "speed": ("Speed: forward+backward unless stated (best wall time of n interleaved runs each)",
              ["device", "case", "reference", "ours ms", "reference ms", "ratio", "goal", "met?"], "<<<>>>><",
              _speed_cells),
    "memory": ("Peak memory of one forward+backward (MB above the inputs)",
               ["device", "case", "reference", "ours MB", "reference MB", "ratio"], "<<<>>>", _memory_cells),
    "training": ("Training from scratch (fresh temporary cache)",
                 ["model", "metric", "value", "goal", "met?", "seconds", "goal s", "met?"], "<<>><>><",
                 _training_cells),
    "quality": ("Explanation quality on n held-out sentiment sentences (a seeded subset of the test split, the "
                "heavy LIME and KernelSHAP on the first of them; rationale ROC-AUC: higher is better, "
                "0.5 = chance; deletion AOPC of the target probability: higher is better; "
                "explain s: time spent in the method)",
                ["model", "method", "n", "AUC", "AOPC", "explain s"], "<<>>>>", _quality_cells),
}


def format_tables(rows):
    """The aligned tables of every kind present in ``rows``."""
    out = []
    for kind, (title, header, align, cells) in TABLES.items():
        mine = [cells(r) for r in rows if r["table"] == kind]
        if mine:
            notes = {r["how"] for r in rows if r["table"] == kind and "how" in r}
            out.append(f"{title}\n{_table(header, mine, align)}" + "".join(f"\n  {n}" for n in sorted(notes)))
    return "\n\n".join(out)


def _progress(r):
    title, header, _, cells = TABLES[r["table"]]
    return f"  [{r['table']}] " + ", ".join(f"{h}: {c}" for h, c in zip(header, cells(r)) if c != "")


def _devices(arg, parser):
    if arg:
        try:
            return [get_device(d.strip()) for d in arg.split(",") if d.strip()]
        except ValueError as err:
            parser.error(str(err))
    devices = [torch.device("cpu")]
    if get_device().type == "cuda":  # honours LLMXAI_DEVICE=cpu
        devices.append(torch.device("cuda"))
    return devices


def _sections(arg, parser):
    wanted = []
    for s in (s.strip() for s in arg.split(",") if s.strip()):
        wanted += GROUPS.get(s, [s])
    unknown = [s for s in wanted if s not in SECTIONS]
    if unknown or not wanted:
        parser.error(f"unknown section(s) {unknown}; expected some of {list(SECTIONS) + list(GROUPS)}")
    return [s for s in SECTIONS if s in wanted]  # the fixed order, each once


def _load():
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv=None):
    """Run the chosen sections, print progress per row and the tables; return the rows."""
    parser = argparse.ArgumentParser(prog="python -m llmxai.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None,
                        help="cpu, cuda, mps or a comma-separated list (default: cpu, and cuda when present)")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections of {list(SECTIONS)}, or 'speed' for {GROUPS['speed']}")
    parser.add_argument("--quick", action="store_true", help="small sizes and no training: a smoke run in seconds")
    parser.add_argument("--json", metavar="PATH", help="also save the rows and the setting as JSON")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU intra-op threads for the run (default: torch's, from OMP_NUM_THREADS or the cores)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads: expected a positive number, got {args.threads}")
        torch.set_num_threads(args.threads)
    wanted = _sections(args.only, parser)
    devices = _devices(args.device, parser)
    meta = dict(torch=torch.__version__, python=platform.python_version(), threads=torch.get_num_threads(),
                devices=[str(d) for d in devices], quick=args.quick, load_before=_load(),
                cuda=torch.cuda.get_device_name() if any(d.type == "cuda" for d in devices) else None,
                section_seconds={})
    print(f"llmxai.bench: devices {meta['devices']}, torch {meta['torch']}, {meta['threads']} threads, "
          f"load average {meta['load_before']}" + (f", GPU {meta['cuda']}" if meta["cuda"] else ""), flush=True)
    rows = []
    for i, device in enumerate(devices):
        for name in wanted:
            if name in ONCE and i > 0:
                continue
            print(f"== {name} on {device}", flush=True)
            seed_everything(0)
            start = time.perf_counter()
            for row in SECTIONS[name](device, args.quick):
                print(_progress(row), flush=True)
                rows.append(row)
            seconds = time.perf_counter() - start
            meta["section_seconds"][f"{name} {device}"] = seconds
            print(f"   ({name} on {device}: {seconds:.1f} s)", flush=True)
    meta["load_after"] = _load()
    print(f"\nload average after: {meta['load_after']}\n\n{format_tables(rows)}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=1, default=float)
        print(f"\nsaved {args.json}")
    return rows
