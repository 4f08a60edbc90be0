"""Speed of our Integrated Gradients and Grad-CAM against captum's, on small models (CPU time, best of n).

Run from the repository root: OMP_NUM_THREADS=1 PYTHONPATH=$PWD python benchmarks/explain_vs_captum.py
"""
import pathlib, time, sys, torch, warnings
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
warnings.filterwarnings("ignore")
from captum.attr import IntegratedGradients, LayerGradCam
from explain_tiny_models import TinyTransformer, ids_batch
from llmxai.explain import integrated_gradients, grad_cam
from torch import nn

def race(fa, fb, reps):
    fa(); fb(); ta, tb = [], []
    for _ in range(reps):
        t = time.process_time(); fa(); ta.append(time.process_time() - t)
        t = time.process_time(); fb(); tb.append(time.process_time() - t)
    return min(ta), min(tb)

torch.manual_seed(0)
m = TinyTransformer(vocab_size=100, d_model=64, n_heads=4, n_layers=2, max_len=64).eval()
ids = ids_batch(B=4, T=32, vocab_size=100)
E = m.embed(ids).detach()
cap = IntegratedGradients(m.forward_embedded)
o, t = race(lambda: integrated_gradients(m, ids, 1, steps=50, method="gausslegendre"),
            lambda: cap.attribute(E, target=1, n_steps=50, method="gausslegendre"), 25)
print(f"IG 50 steps, TinyTransformer d=64 L=2 B=4 T=32: ours {o*1e3:.1f} ms, captum {t*1e3:.1f} ms, ratio {o/t:.2f}")
o, t = race(lambda: integrated_gradients(m, ids, 1, steps=50, method="gausslegendre", return_gap=True),
            lambda: cap.attribute(E, target=1, n_steps=50, method="gausslegendre", return_convergence_delta=True), 15)
print(f"  with gap/delta: ours {o*1e3:.1f} ms, captum {t*1e3:.1f} ms, ratio {o/t:.2f}")

cnn = nn.Sequential(nn.Conv2d(3,16,3,padding=1), nn.ReLU(), nn.Conv2d(16,32,3,padding=1), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Conv2d(32,32,3,padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32,10)).eval()
x = torch.randn(8,3,32,32)
for layer in ("6", "2"):
    lg = LayerGradCam(cnn, dict(cnn.named_modules())[layer])
    o, t = race(lambda: grad_cam(cnn, x, 3, layer), lambda: lg.attribute(x, target=3, relu_attributions=True), 40)
    print(f"Grad-CAM layer {layer}, CNN B=8 3x32x32: ours {o*1e3:.2f} ms, captum {t*1e3:.2f} ms, ratio {o/t:.2f}")
lg = LayerGradCam(m, m.blocks[0])
o, t = race(lambda: grad_cam(m, ids, 1, "blocks.0", channel_dim=2), lambda: lg.attribute(ids, target=1), 40)
print(f"Grad-CAM blocks.0 TinyTransformer (captum reads (B,T,C) as channels-first, timing only): ours {o*1e3:.2f} ms, captum {t*1e3:.2f} ms, ratio {o/t:.2f}")
