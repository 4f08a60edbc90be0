"""Timing and peak memory, measured the same way for every row of the benchmark."""

import ctypes
import os
import sys
import time
import traceback

import torch

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def once(fn, device):
    """Wall seconds of one call of ``fn``, waiting for the accelerator to finish."""
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def compare(ours, reference, device, quick=False, budget_s=2.0):
    """Best-of-n seconds of ``ours()`` and ``reference()``, and the number of pairs n.

    The two run in pairs whose order alternates, so that both meet the same background load;
    the fastest run of each is the one least disturbed by the other processes of a shared
    machine. n fills about ``budget_s`` (at least 5 pairs, at most 60).
    """
    for _ in range(1 if quick else 2):  # first calls allocate, pick kernels and fill caches
        ours(), reference()
    first = once(ours, device) + once(reference, device)
    n = 3 if quick else int(min(60, max(5, budget_s / max(first, 1e-9))))
    a, b = [], []
    for i in range(n):
        if i % 2:
            b.append(once(reference, device))
            a.append(once(ours, device))
        else:
            a.append(once(ours, device))
            b.append(once(reference, device))
    return min(a), min(b), n


def fwd_bwd(fn, inputs):
    """A closure: forward ``fn()``, then backward of the sum of its (first) output to fresh gradients."""

    def run():
        for x in inputs:
            x.grad = None
        out = fn()
        out = out[0] if isinstance(out, tuple) else out
        out.sum().backward()

    return run


def _status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024  # reported in kB
    raise KeyError(key)


def cpu_peak_supported():
    return sys.platform.startswith("linux") and hasattr(os, "fork") and os.path.exists("/proc/self/clear_refs")


def _child_peak(fn):
    """In a forked child: bytes by which the resident set rose at its highest during ``fn()``."""
    torch.set_num_threads(1)
    # With a fixed threshold glibc maps every block >= 64 KiB on its own and unmaps it when freed,
    # so the resident set follows the live tensors instead of the allocator's free lists.
    libc = ctypes.CDLL(None)
    libc.mallopt(M_MMAP_THRESHOLD, 64 * 1024)
    # A forked child maps the library's code pages back in as it first runs it; a first call
    # does that (and any lazy set-up), so the measured call counts tensors only.
    fn()
    libc.malloc_trim(0)
    before = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM, the peak resident set, to the current one
    fn()
    return _status("VmHWM") - before


CPU_PEAK_HOW = ("CPU: rise of the peak resident set (VmHWM, reset through /proc/self/clear_refs) during a second "
                "call in a forked child, glibc mmap threshold fixed at 64 KiB so freed tensors leave the resident set")
CUDA_PEAK_HOW = "CUDA: torch.cuda.max_memory_allocated above what was allocated before the call"


def peak_bytes(fn, device):
    """Peak extra bytes used by one call of ``fn`` (None where it cannot be measured, e.g. MPS)."""
    if device.type == "cuda":
        sync(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        sync(device)
        return torch.cuda.max_memory_allocated(device) - base
    if device.type != "cpu" or not cpu_peak_supported():
        return None
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child measures, writes one number and leaves without running exit handlers
        code = 1
        try:
            os.close(read)
            os.write(write, str(_child_peak(fn)).encode())
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    os.close(write)
    data = b""
    while chunk := os.read(read, 64):
        data += chunk
    os.close(read)
    _, status = os.waitpid(pid, 0)
    return int(data) if status == 0 and data else None
