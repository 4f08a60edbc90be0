"""Benchmarks: ``python -m llmxai.bench`` prints from-scratch vs PyTorch timings side by side.

Speed is measured here, never asserted in tests. Each row times the two implementations in
the same process, interleaved, and reports the median over repeats, so that background load
affects both alike.
"""

import argparse
import statistics
import time

import torch

from llmxai.device import get_device, seed_everything


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timeit(fn, device, repeat=7, warmup=2):
    """Median wall time of ``fn()`` in seconds."""
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def compare(name, ours, theirs, device, goal=None, repeat=7):
    """Time two callables interleaved; return a table row."""
    t_ours, t_theirs = [], []
    for fn in (ours, theirs):
        fn()
    for _ in range(repeat):
        t_ours.append(timeit(ours, device, repeat=1, warmup=0))
        t_theirs.append(timeit(theirs, device, repeat=1, warmup=0))
    a, b = statistics.median(t_ours), statistics.median(t_theirs)
    return dict(name=name, ours_ms=1e3 * a, torch_ms=1e3 * b, ratio=a / b, goal=goal)


def peak_memory(fn, device):
    """Peak bytes allocated during ``fn()`` on CUDA; on CPU torch does not track it (None)."""
    if device.type != "cuda":
        return None
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    _sync(device)
    return torch.cuda.max_memory_allocated(device)


def fwd_bwd(fn, *inputs):
    """A closure running forward and backward of ``fn`` on fresh-gradient inputs."""

    def run():
        for x in inputs:
            x.grad = None
        out = fn(*inputs)
        out = out[0] if isinstance(out, tuple) else out
        out.sum().backward()

    return run


def bench_attention(device, quick=False):
    from llmxai.nn.attention import scaled_dot_product_attention

    B, H, T, d = (2, 4, 64, 32) if quick else (8, 8, 256, 64)
    q, k, v = (torch.randn(B, H, T, d, device=device, requires_grad=True) for _ in range(3))
    row = compare(
        f"attention B={B} H={H} T={T} d_head={d} fwd+bwd",
        fwd_bwd(scaled_dot_product_attention, q, k, v),
        fwd_bwd(torch.nn.functional.scaled_dot_product_attention, q, k, v),
        device, goal=1.3,
    )
    row["peak_ours"] = peak_memory(fwd_bwd(scaled_dot_product_attention, q, k, v), device)
    row["peak_torch"] = peak_memory(fwd_bwd(torch.nn.functional.scaled_dot_product_attention, q, k, v), device)
    return [row]


SECTIONS = {"attention": bench_attention}


def format_rows(rows):
    lines = [f"{'case':<58} {'ours ms':>9} {'torch ms':>9} {'ratio':>6} {'goal':>6}  peak MB (ours/torch)"]
    for r in rows:
        goal = f"<={r['goal']:.1f}" if r.get("goal") else ""
        mark = "" if not r.get("goal") else (" ok" if r["ratio"] <= r["goal"] else " MISSED")
        peak = ""
        if r.get("peak_ours") is not None:
            peak = f"{r['peak_ours'] / 2**20:.0f}/{r['peak_torch'] / 2**20:.0f}"
        lines.append(f"{r['name']:<58} {r['ours_ms']:>9.2f} {r['torch_ms']:>9.2f} {r['ratio']:>6.2f} {goal:>6}{mark:<7} {peak}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m llmxai.bench", description=__doc__)
    parser.add_argument("--device", default=None, help="cpu, cuda or mps (default: best available)")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections of {list(SECTIONS)}")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    args = parser.parse_args(argv)
    device = get_device(args.device)
    seed_everything(0)
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {unknown}; expected some of {list(SECTIONS)}")
    print(f"device: {device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    rows = []
    for name in wanted:
        rows += SECTIONS[name](device, quick=args.quick)
    print(format_rows(rows))
    return rows


if __name__ == "__main__":
    main()
