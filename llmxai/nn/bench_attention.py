"""Time the from-scratch attention against PyTorch's, forward plus backward, side by side.

Run ``python -m llmxai.nn.bench_attention``. Each repetition times ours and torch's
back to back, alternating which goes first, and the table reports medians, so that a
busy machine slows both alike. Speed is measured here, never asserted in tests.
"""

import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from llmxai.device import get_device
from llmxai.nn.attention import scaled_dot_product_attention
from llmxai.nn.mha import MultiHeadAttention


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _compare(ours, theirs, inputs, device, repeats, warmup=2):
    """Median seconds per call of ``ours`` and ``theirs`` (each: forward, then backward)."""
    def once(fn):
        _sync(device)
        start = time.perf_counter()
        out = fn()
        torch.autograd.grad(out, inputs, torch.ones_like(out))
        _sync(device)
        return time.perf_counter() - start

    for _ in range(warmup):
        once(ours), once(theirs)
    times = {"ours": [], "torch": []}
    for i in range(repeats):
        order = [("ours", ours), ("torch", theirs)][:: 1 if i % 2 == 0 else -1]
        for name, fn in order:
            times[name].append(once(fn))
    return statistics.median(times["ours"]), statistics.median(times["torch"])


def time_attention(B=8, n_heads=8, T=256, d_head=64, device=None, dtype=torch.float32, repeats=15):
    """Seconds for our ``scaled_dot_product_attention`` and ``F.scaled_dot_product_attention``."""
    device = get_device(device)
    g = torch.Generator(device=device).manual_seed(0)
    q, k, v = (torch.randn(B, n_heads, T, d_head, generator=g, device=device, dtype=dtype, requires_grad=True)
               for _ in range(3))
    return _compare(lambda: scaled_dot_product_attention(q, k, v)[0],
                    lambda: F.scaled_dot_product_attention(q, k, v), (q, k, v), device, repeats)


def time_mha(B=8, n_heads=8, T=256, d_head=64, need_weights=True, device=None, dtype=torch.float32, repeats=15):
    """Seconds for our ``MultiHeadAttention`` and ``nn.MultiheadAttention`` in self-attention.

    Ours always forms the weights (its hook points need them); torch's uses its fused
    kernel when ``need_weights=False``.
    """
    device = get_device(device)
    torch.manual_seed(0)
    ref = nn.MultiheadAttention(n_heads * d_head, n_heads, batch_first=True, device=device, dtype=dtype)
    ours = MultiHeadAttention.from_torch(ref)
    x = torch.randn(B, T, n_heads * d_head, device=device, dtype=dtype, requires_grad=True)
    return _compare(lambda: ours(x, x, x, need_weights=need_weights)[0],
                    lambda: ref(x, x, x, need_weights=need_weights)[0], (x,), device, repeats)


def main():
    rows = [
        ("scaled_dot_product_attention vs F.scaled_dot_product_attention", time_attention, {}),
        ("MultiHeadAttention vs nn.MultiheadAttention (need_weights=True)", time_mha, {}),
        ("MultiHeadAttention vs nn.MultiheadAttention (need_weights=False)", time_mha, {"need_weights": False}),
    ]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"B=8, n_heads=8, T=256, d_head=64, float32, forward+backward; torch threads={torch.get_num_threads()}")
    print(f"{'comparison':66s} {'device':6s} {'ours ms':>8s} {'torch ms':>8s} {'ratio':>6s}")
    for device in devices:
        for label, fn, kwargs in rows:
            ours, theirs = fn(device=device, **kwargs)
            print(f"{label:66s} {device:6s} {ours * 1e3:8.1f} {theirs * 1e3:8.1f} {ours / theirs:6.2f}")


if __name__ == "__main__":
    main()
