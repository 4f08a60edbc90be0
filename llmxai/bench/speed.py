"""Speed sections: from-scratch models and optimiser against PyTorch's, explanation methods
against one forward + backward pass or against Captum, and peak memory."""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from llmxai.bench.timing import CPU_PEAK_HOW, CUDA_PEAK_HOW, compare, fwd_bwd, peak_bytes

FWD_BWD = "1 forward + 1 backward"
CAPTUM_MISSING = ("captum is not installed; it is only a test extra (pip install 'llmxai[test]'), "
                  "needed here as the reference for the {what} row(s), which are skipped")


@dataclass
class Case:
    """One side-by-side comparison: ``ours()`` and ``reference()`` do the same work."""
    case: str
    reference_name: str
    ours: object
    reference: object
    goal: float = None


def _speed_rows(cases, device, quick):
    for c in cases:
        t_ours, t_ref, n = compare(c.ours, c.reference, device, quick)
        yield dict(table="speed", device=device.type, case=c.case, reference=c.reference_name,
                   ours_ms=1e3 * t_ours, ref_ms=1e3 * t_ref, ratio=t_ours / t_ref, goal=c.goal, runs=n)


def attention_case(device, quick):
    from llmxai.nn.attention import scaled_dot_product_attention

    B, H, T, d = (2, 2, 32, 16) if quick else (8, 8, 256, 64)
    torch.manual_seed(0)
    q, k, v = (torch.randn(B, H, T, d, device=device, requires_grad=True) for _ in range(3))
    return Case(f"attention B={B} H={H} T={T} d_head={d}", "F.scaled_dot_product_attention",
                fwd_bwd(lambda: scaled_dot_product_attention(q, k, v)[0], (q, k, v)),
                fwd_bwd(lambda: F.scaled_dot_product_attention(q, k, v), (q, k, v)), goal=1.3)


def lstm_case(device, quick, fused=True):
    from llmxai.nn.lstm import LSTM

    T, B, size = (8, 4, 16) if quick else (64, 32, 128)
    torch.manual_seed(0)
    ref = nn.LSTM(size, size).to(device)
    ours = LSTM.from_torch(ref)
    ours.fused = fused
    x = torch.randn(T, B, size, device=device, requires_grad=True)
    return Case(f"LSTM T={T} B={B} in=hidden={size}" + ("" if fused else " fused=False"), "nn.LSTM",
                fwd_bwd(lambda: ours(x)[0], (x,)), fwd_bwd(lambda: ref(x)[0], (x,)), goal=2.0 if fused else None)


def mha_case(device, quick, need_weights=True):
    from llmxai.nn.mha import MultiHeadAttention

    B, T, H, d = (2, 16, 2, 8) if quick else (8, 256, 8, 64)
    torch.manual_seed(0)
    ref = nn.MultiheadAttention(H * d, H, batch_first=True, device=device)
    ours = MultiHeadAttention.from_torch(ref)
    x = torch.randn(B, T, H * d, device=device, requires_grad=True)
    # Ours always forms the weights (its hook points need them); torch's takes its fused kernel without them.
    return Case(f"MultiHeadAttention B={B} T={T} H={H} d_head={d} need_weights={need_weights}",
                "nn.MultiheadAttention",
                fwd_bwd(lambda: ours(x, x, x, need_weights=need_weights)[0], (x,)),
                fwd_bwd(lambda: ref(x, x, x, need_weights=need_weights)[0], (x,)))


def attention(device, quick):
    yield from _speed_rows([attention_case(device, quick)], device, quick)


def lstm(device, quick):
    fast = lstm_case(device, quick)
    plain = lstm_case(device, quick, fused=False)  # the step-by-step autograd path the chapter teaches
    yield from _speed_rows([fast, plain], device, quick)


def mha(device, quick):
    yield from _speed_rows([mha_case(device, quick, True), mha_case(device, quick, False)], device, quick)


def adam(device, quick):
    from llmxai.optim import Adam

    width = 32 if quick else 1024
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(width // 2, width), nn.ReLU(), nn.Linear(width, width // 2), nn.ReLU(),
                        nn.Linear(width // 2, 10)).to(device)
    ours_params = [p.detach().clone().requires_grad_(True) for p in net.parameters()]
    ref_params = [p.detach().clone().requires_grad_(True) for p in net.parameters()]
    for a, b in zip(ours_params, ref_params):
        a.grad = torch.randn_like(a)
        b.grad = a.grad.clone()
    n = sum(p.numel() for p in ours_params)
    ours, ref = Adam(ours_params, lr=1e-3), torch.optim.Adam(ref_params, lr=1e-3)
    yield from _speed_rows([Case(f"Adam step, {n / 1e6:.2f}M params", "torch.optim.Adam",
                                 ours.step, ref.step)], device, quick)


def memory(device, quick):
    how = CUDA_PEAK_HOW if device.type == "cuda" else CPU_PEAK_HOW
    for c in (attention_case(device, quick), lstm_case(device, quick), mha_case(device, quick)):
        c.ours(), c.reference()  # warm up outside the measurement (kernels, lazy state)
        ours, ref = peak_bytes(c.ours, device), peak_bytes(c.reference, device)
        ok = ours is not None and ref is not None
        yield dict(table="memory", device=device.type, case=c.case, reference=c.reference_name,
                   ours_mb=ours / 2**20 if ok else None, ref_mb=ref / 2**20 if ok else None,
                   ratio=ours / ref if ok and ref else None, how=how if ok else f"n/a on {device.type}")


def _transformer(device, quick):
    from llmxai.nn import TransformerClassifier

    torch.manual_seed(0)
    kw = dict(d_model=16, n_heads=2, n_layers=1, d_ff=32) if quick else {}  # else the class defaults
    return TransformerClassifier(100, 2, **kw).to(device).eval()


def _ids(B, T, device, vocab_size=100):
    g = torch.Generator().manual_seed(0)
    return torch.randint(1, vocab_size, (B, T), generator=g).to(device)


def _describe(model):
    return f"d_model={model.d_model} layers={len(model.blocks)}"


def _embedded_fwd_bwd(model, ids, target):
    """One forward and one backward pass from the embeddings: what an attribution pass is measured against."""

    def run():
        with torch.no_grad():
            E = model.embed(ids)
        E.requires_grad_(True)
        out = model.forward_embedded(E)
        torch.autograd.grad(out[:, target].sum(), E)

    return run


def lrp(device, quick):
    from llmxai.explain import attn_lrp, cp_lrp, lrp as lrp_epsilon
    from llmxai.nn import LSTMAttentionClassifier

    B, T = (2, 8) if quick else (16, 32)
    model, ids = _transformer(device, quick), _ids(B, T, device)
    base = _embedded_fwd_bwd(model, ids, 1)
    where = f"TransformerClassifier {_describe(model)} B={B} T={T}"
    cases = [Case(f"CP-LRP, {where}", FWD_BWD, lambda: cp_lrp(model, ids, 1), base, 1.5),
             Case(f"AttnLRP, {where}", FWD_BWD, lambda: attn_lrp(model, ids, 1), base, 1.5)]
    torch.manual_seed(0)
    d = 16 if quick else 64
    rnn = LSTMAttentionClassifier(100, 2, d_emb=d, d_hidden=d).to(device).eval()
    cases.append(Case(f"LRP-epsilon, LSTMAttentionClassifier d={d} B={B} T={T}", FWD_BWD,
                      lambda: lrp_epsilon(rnn, ids, 1), _embedded_fwd_bwd(rnn, ids, 1)))
    yield from _speed_rows(cases, device, quick)


def _captum(what):
    try:
        import captum.attr
    except ImportError:
        print(CAPTUM_MISSING.format(what=what), flush=True)
        return None
    return captum.attr


def integrated_gradients(device, quick):
    attr = _captum("Integrated Gradients")
    if attr is None:
        return
    from llmxai.explain import integrated_gradients as ig

    B, T, steps = (2, 8, 8) if quick else (4, 32, 50)
    model, ids = _transformer(device, quick), _ids(B, T, device)
    with torch.no_grad():
        E = model.embed(ids)
    theirs = attr.IntegratedGradients(model.forward_embedded)
    case = Case(f"IG {steps} steps, TransformerClassifier {_describe(model)} B={B} T={T}", "captum IntegratedGradients",
                lambda: ig(model, ids, 1, steps=steps, method="gausslegendre"),
                lambda: theirs.attribute(E, target=1, n_steps=steps, method="gausslegendre"), goal=1.0)
    yield from _speed_rows([case], device, quick)


def grad_cam(device, quick):
    attr = _captum("Grad-CAM")
    if attr is None:
        return
    from llmxai.explain import grad_cam as ours
    from llmxai.nn import DigitsCNN, TextCNN

    torch.manual_seed(0)
    B, T = (2, 8) if quick else (16, 32)
    text = TextCNN(100, 2, d_emb=16 if quick else 64, n_filters=16 if quick else 64).to(device).eval()
    ids = _ids(B, T, device)
    digits = DigitsCNN().to(device).eval()
    images = torch.randn(8 if quick else 64, 1, 8, 8, device=device)
    cases = []
    for model, x, layer, what in ((text, ids, "convs.0", f"TextCNN B={B} T={T}"),
                                  (digits, images, "conv2", f"DigitsCNN B={images.shape[0]} 8x8")):
        theirs = attr.LayerGradCam(model, dict(model.named_modules())[layer])
        cases.append(Case(f"Grad-CAM {what} layer {layer}", "captum LayerGradCam",
                          lambda m=model, x=x, layer=layer: ours(m, x, 1, layer),
                          lambda t=theirs, x=x: t.attribute(x, target=1, relu_attributions=True), goal=1.0))
    yield from _speed_rows(cases, device, quick)
