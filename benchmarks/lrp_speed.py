"""Time one LRP pass against one forward + one backward pass of the same model.

Run: OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/lrp_speed.py
Models: llmxai's TransformerClassifier (or, until it lands, the CONVENTIONS.md stand-in of
tests/lrp_standins.py), an MLP and a CNN; float32 on CPU (and CUDA when present). Base and
LRP are timed alternately and the median ratio is reported, as the machine may be busy.
"""

import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
try:
    from llmxai.nn.transformer import TransformerClassifier
except ImportError:  # llmxai.nn's Transformer not merged yet: the CONVENTIONS.md stand-in of the tests
    TransformerClassifier = None
from lrp_standins import TinyTransformerClassifier  # noqa: E402

from llmxai.device import get_device  # noqa: E402
from llmxai.explain.lrp import lrp  # noqa: E402


def timed_pair(base, fn, device, repeats=40):
    """Median times of ``base`` and ``fn`` run alternately (a busy machine slows both alike), and the median ratio."""

    def once(f):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        f()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t

    for _ in range(3):
        base(), fn()
    pairs = [(once(base), once(fn)) for _ in range(repeats)]
    return (statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs),
            statistics.median(p[1] / p[0] for p in pairs))


def forward_backward(model, x, target):
    def run():
        if x.is_floating_point():
            inp = x.detach().requires_grad_(True)
            out = model(inp)
        else:
            inp = model.embed(x).detach().requires_grad_(True)
            out = model.forward_embedded(inp)
        torch.autograd.grad(out[:, target].sum(), inp)

    return run


def main():
    torch.manual_seed(0)
    device = get_device()
    if TransformerClassifier is not None:
        transformer = TransformerClassifier(100, 3, d_model=64, n_heads=4, n_layers=2, d_ff=128, activation="gelu")
    else:
        transformer = TinyTransformerClassifier(vocab_size=100, d_model=64, n_heads=4, n_layers=2, max_len=32)
    cases = {
        "transformer (B=16, T=32, d=64, 2 blocks)": (transformer, torch.randint(1, 100, (16, 32))),
        "mlp (B=64, 256-512-512-10)": (
            nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)),
            torch.randn(64, 256)),
        "cnn (B=16, 3x32x32)": (
            nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1),
                          nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(512, 10)),
            torch.randn(16, 3, 32, 32)),
    }
    print(f"device: {device}, threads: {torch.get_num_threads()}")
    for name, (model, x) in cases.items():
        model, x = model.to(device).eval(), x.to(device)
        base = forward_backward(model, x, 1)
        for label, kwargs in (("epsilon", {}), ("gamma", {"rule": "gamma"}), ("attnlrp", {"attention": "attnlrp"})):
            if label == "attnlrp" and "transformer" not in name:
                continue
            tb, t, ratio = timed_pair(base, lambda: lrp(model, x, 1, **kwargs), device)
            print(f"{name:42s} {label:8s} fwd+bwd {tb * 1e3:7.2f} ms  lrp {t * 1e3:7.2f} ms  ratio {ratio:5.2f}")

if __name__ == "__main__":
    main()
