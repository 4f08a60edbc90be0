import pytest
import torch
import torch.nn.functional as F
from torch import nn

from llmxai.hooks import hook_names, hooks, run_with_cache, run_with_patches
from llmxai.nn import (
    GPT,
    FeedForward,
    LayerNorm,
    MultiHeadAttention,
    TransformerBlock,
    TransformerClassifier,
    gelu,
    masked_softmax,
)

D64 = torch.float64
# torch warns when a bool and a float mask are mixed; we test that case on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched")


def randn(*shape, seed=0, grad=True):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=D64).requires_grad_(grad)


def assert_same(ours, theirs, inputs, seed=9):
    """Outputs and input gradients (for one random upstream gradient) agree to 1e-10."""
    torch.testing.assert_close(ours, theirs, atol=1e-10, rtol=0)
    up = torch.randn(ours.shape, generator=torch.Generator().manual_seed(seed), dtype=D64)
    for a, b in zip(torch.autograd.grad(ours, inputs, up), torch.autograd.grad(theirs, inputs, up)):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


# ---- LayerNorm, FeedForward, softmax -------------------------------------------------------


def test_layernorm_equals_torch():
    ref = nn.LayerNorm(6, eps=1e-3, dtype=D64)
    with torch.no_grad():
        ref.weight.normal_(), ref.bias.normal_()
    ours, x = LayerNorm.from_torch(ref), randn(3, 4, 6)
    assert_same(ours(x), ref(x), (x,))
    gw = torch.autograd.grad(ours(x).pow(2).sum(), (ours.weight, ours.bias))
    tw = torch.autograd.grad(ref(x).pow(2).sum(), (ref.weight, ref.bias))
    for a, b in zip(gw, tw):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


def test_layernorm_scale_hook_detached_keeps_value_and_freezes_std():
    ln, x = LayerNorm(5).double(), randn(2, 5)
    with torch.no_grad():
        ln.weight.normal_()

    def frozen(x):  # the std as a constant: LayerNorm becomes affine in x
        centred = x - x.mean(-1, keepdim=True)
        return centred / (centred.pow(2).mean(-1, keepdim=True) + 1e-5).sqrt().detach() * ln.weight + ln.bias

    loss = lambda y: (y * torch.arange(5.0, dtype=D64)).sum()
    y = ln(x)
    (g_full,) = torch.autograd.grad(loss(y), x)
    with hooks(ln, {"hook_scale": torch.Tensor.detach}):
        y_frozen = ln(x)
    torch.testing.assert_close(y_frozen, y, atol=0, rtol=0)
    (g,) = torch.autograd.grad(loss(y_frozen), x)
    torch.testing.assert_close(g, torch.autograd.grad(loss(frozen(x)), x)[0], atol=1e-12, rtol=0)
    assert not torch.allclose(g, g_full)


@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_feedforward_equals_torch_composition(activation):
    ff, x = FeedForward(6, 10, activation).double(), randn(2, 3, 6)
    act = F.relu if activation == "relu" else F.gelu
    assert_same(ff(x), ff.linear2(act(ff.linear1(x))), (x,))


def test_gelu_and_softmax_equal_torch():
    x = randn(4, 7)
    assert_same(gelu(x), F.gelu(x), (x,))
    assert_same(masked_softmax(x), torch.softmax(x, -1), (x,))
    assert torch.autograd.gradgradcheck(masked_softmax, (randn(2, 5),))


# ---- MultiHeadAttention ----------------------------------------------------------------------


def mha_pair(d=12, h=3, bias=True, seed=0):
    torch.manual_seed(seed)
    ref = nn.MultiheadAttention(d, h, bias=bias, batch_first=True, dtype=D64)
    return MultiHeadAttention.from_torch(ref), ref


def masks(kind, B=2, H=3, T=5, S=6):
    g = torch.Generator().manual_seed(3)
    kpm = torch.zeros(B, S, dtype=torch.bool)
    kpm[1, 4:] = True  # second sequence: last two keys are padding
    blocked = torch.rand(T, S, generator=g) > 0.6
    blocked[:, 0] = False  # every query keeps a key: torch gives NaN rows otherwise
    return {
        "none": {},
        "key_padding": {"key_padding_mask": kpm},
        "attn_bool": {"attn_mask": blocked},
        "both_bool": {"key_padding_mask": kpm, "attn_mask": blocked},
        "float": {"key_padding_mask": kpm.double() * -2.5, "attn_mask": torch.randn(T, S, generator=g, dtype=D64)},
        "per_head": {"attn_mask": torch.randn(B * H, T, S, generator=g, dtype=D64), "key_padding_mask": kpm},
    }[kind]


@pytest.mark.parametrize("kind", ["none", "key_padding", "attn_bool", "both_bool", "float", "per_head"])
@pytest.mark.parametrize("average", [True, False])
def test_mha_equals_torch(kind, average):
    ours, ref = mha_pair()
    q, k, v = randn(2, 5, 12, seed=1), randn(2, 6, 12, seed=2), randn(2, 6, 12, seed=3)
    o1, w1 = ours(q, k, v, average_attn_weights=average, **masks(kind))
    o2, w2 = ref(q, k, v, average_attn_weights=average, **masks(kind))
    assert w1.shape == ((2, 5, 6) if average else (2, 3, 5, 6))
    torch.testing.assert_close(w1, w2, atol=1e-10, rtol=0)
    assert_same(o1, o2, (q, k, v))


def test_mha_self_attention_causal_no_bias_and_unbatched():
    ours, ref = mha_pair(bias=False)
    x = randn(2, 5, 12)
    causal = nn.Transformer.generate_square_subsequent_mask(5, dtype=D64)
    assert_same(ours(x, x, x, is_causal=True)[0], ref(x, x, x, attn_mask=causal, is_causal=True)[0], (x,))
    out, w = ours(x[0], x[0], x[0], key_padding_mask=torch.tensor([False] * 4 + [True]))
    o2, w2 = ref(x[0], x[0], x[0], key_padding_mask=torch.tensor([False] * 4 + [True]))
    torch.testing.assert_close(w, w2, atol=1e-10, rtol=0)
    assert_same(out, o2, (x,))
    assert ours(x, x, x, need_weights=False)[1] is None


def test_mha_hooks_shapes_patching_and_a_constant_pattern():
    ours, _ = mha_pair()
    q, kv = randn(2, 5, 12, seed=1), randn(2, 6, 12, seed=2)
    out, cache = run_with_cache(ours, q, kv, kv, key_padding_mask=masks("key_padding")["key_padding_mask"])
    assert {n: tuple(t.shape) for n, t in cache.items()} == {
        "hook_q": (2, 3, 5, 4), "hook_k": (2, 3, 6, 4), "hook_v": (2, 3, 6, 4),
        "hook_scores": (2, 3, 5, 6), "hook_pattern": (2, 3, 5, 6), "hook_z": (2, 3, 5, 4),
    }
    assert torch.isinf(cache["hook_scores"][1, ..., 4:]).all() and (cache["hook_pattern"][1, ..., 4:] == 0).all()
    uniform = torch.full((2, 3, 5, 6), 1 / 6, dtype=D64)
    patched, w = run_with_patches(ours, q, kv, kv, patches={"hook_pattern": uniform})
    assert torch.equal(w, uniform.mean(1)) and not torch.allclose(patched, out[0])
    zeroed = run_with_patches(ours, q, kv, kv, patches={"hook_z": lambda z: torch.zeros_like(z)})[0]
    torch.testing.assert_close(zeroed, ours.out_proj.bias.expand(2, 5, 12))
    before = ours(q, kv, kv)[0]
    assert torch.autograd.grad(before.sum(), q)[0].abs().sum() > 0
    with hooks(ours, {"hook_pattern": torch.Tensor.detach}):  # CP-LRP's view: gradients through the values only
        again = ours(q, kv, kv)[0]
    torch.testing.assert_close(again, before, atol=0, rtol=0)
    g_q, g_kv = torch.autograd.grad(again.sum(), (q, kv), materialize_grads=True)
    assert torch.equal(g_q, torch.zeros_like(g_q)) and g_kv.abs().sum() > 0


def test_mha_fully_blocked_query_is_zero_not_nan():
    ours, _ = mha_pair()
    x = randn(1, 3, 12)
    blocked = torch.zeros(3, 3, dtype=torch.bool)
    blocked[1] = True
    out, w = ours(x, x, x, attn_mask=blocked)
    assert torch.isfinite(out).all() and torch.equal(w[0, 1], torch.zeros(3, dtype=D64))


# ---- TransformerBlock ------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_block_equals_torch_encoder_layer(activation):
    torch.manual_seed(0)
    ref = nn.TransformerEncoderLayer(12, 3, 20, dropout=0.0, activation=activation, layer_norm_eps=1e-6,
                                     norm_first=True, batch_first=True, dtype=D64)
    with torch.no_grad():
        for ln in (ref.norm1, ref.norm2):
            ln.weight.normal_(), ln.bias.normal_()
    ours, x = TransformerBlock.from_torch(ref), randn(2, 5, 12)
    kpm = torch.tensor([[False] * 5, [False] * 3 + [True] * 2])
    causal = nn.Transformer.generate_square_subsequent_mask(5, dtype=D64)
    assert_same(ours(x), ref(x), (x,))
    assert_same(ours(x, src_key_padding_mask=kpm), ref(x, src_key_padding_mask=kpm), (x,))
    assert_same(ours(x, causal, kpm, is_causal=True), ref(x, causal, kpm, is_causal=True), (x,))
    assert_same(ours(x, is_causal=True), ref(x, causal, is_causal=True), (x,))


def test_attention_only_block():
    block = TransformerBlock(8, 2, 16, mlp=False).double()
    assert not hasattr(block, "mlp") and "hook_mlp_out" not in hook_names(block)
    x = randn(2, 4, 8)
    h = block.ln1(x)
    torch.testing.assert_close(block(x), x + block.attn(h, h, h)[0], atol=1e-12, rtol=0)


# ---- GPT -------------------------------------------------------------------------------------


def tiny_gpt(mlp=True, seed=0):
    torch.manual_seed(seed)
    return GPT(vocab_size=13, d_model=16, n_heads=2, n_layers=2, d_ff=32, max_len=12, mlp=mlp).double()


def ids(B=2, T=7, V=13, seed=0, low=0):
    return torch.randint(low, V, (B, T), generator=torch.Generator().manual_seed(seed))


def test_gpt_hooks_cache_every_name_with_conventional_shapes():
    model, x = tiny_gpt(), ids()
    logits, cache = run_with_cache(model, x)
    assert logits.shape == (2, 7, 13) and set(cache) == set(hook_names(model))
    for i in range(2):
        for name in ("resid_pre", "attn_out", "resid_mid", "mlp_out", "resid_post"):
            assert cache[f"blocks.{i}.hook_{name}"].shape == (2, 7, 16)
        for name in ("q", "k", "v", "z"):
            assert cache[f"blocks.{i}.attn.hook_{name}"].shape == (2, 2, 7, 8)
        assert cache[f"blocks.{i}.attn.hook_pattern"].shape == (2, 2, 7, 7)
        assert torch.isinf(cache[f"blocks.{i}.attn.hook_scores"][..., 0, 1:]).all()
    torch.testing.assert_close(model.forward_embedded(cache["hook_embed"]), logits, atol=1e-12, rtol=0)
    only_attn = tiny_gpt(mlp=False)
    assert not any("mlp" in n or "resid_mid" in n for n in hook_names(only_attn))
    assert only_attn(x).shape == (2, 7, 13)


@pytest.mark.parametrize("name", ["blocks.1.attn.hook_pattern", "blocks.0.attn.hook_z"])
def test_gpt_patching_changes_output(name):
    model, x = tiny_gpt(), ids()
    clean = model(x)
    patched = run_with_patches(model, x, patches={name: lambda a: a.flip(-2)})
    assert not torch.allclose(patched, clean)


def test_gpt_is_causal():
    model, x = tiny_gpt(), ids()
    changed = x.clone()
    changed[:, 4] = (changed[:, 4] + 1) % 13
    a, b = model(x), model(changed)
    torch.testing.assert_close(a[:, :4], b[:, :4], atol=0, rtol=0)
    assert not torch.allclose(a[:, 4:], b[:, 4:])


def test_gpt_overfits_a_repeated_sequence_and_generates_it():
    torch.manual_seed(0)
    model = GPT(vocab_size=8, d_model=32, n_heads=2, n_layers=2, d_ff=64, max_len=16)
    seq = torch.tensor([[1, 5, 2, 7, 3, 6, 4] * 2 + [1, 5]])  # (1, 16)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        loss = F.cross_entropy(model(seq[:, :-1]).flatten(0, 1), seq[0, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.01
    assert torch.equal(model.generate(seq[:, :3], 10, temperature=0), seq[:, :13])


def test_gpt_generation_is_seeded_and_greedy_at_zero_temperature():
    model, x = tiny_gpt(), ids(T=5)
    a = model.generate(x, 9, generator=torch.Generator().manual_seed(1))
    b = model.generate(x, 9, generator=torch.Generator().manual_seed(1))
    assert a.shape == (2, 14) and torch.equal(a, b) and torch.equal(a[:, :5], x)
    greedy = model.generate(x, 9, temperature=0)  # 14 tokens > max_len: context is cropped
    assert torch.equal(greedy, model.generate(x, 9, top_k=1, generator=torch.Generator().manual_seed(5)))
    assert torch.equal(greedy[:, 5], model(x)[:, -1].argmax(-1))
    restricted = model.generate(x, 1, top_k=2, generator=torch.Generator().manual_seed(0))[:, -1]
    top2 = model(x)[:, -1].topk(2).indices
    assert all(restricted[i] in top2[i] for i in range(2))


# ---- TransformerClassifier -------------------------------------------------------------------


def tiny_classifier():
    torch.manual_seed(0)
    return TransformerClassifier(13, 3, d_model=16, n_heads=2, n_layers=2, d_ff=32, max_len=10).double()


def test_classifier_masks_padding_and_matches_forward_embedded():
    model = tiny_classifier()
    x = ids(T=6, low=1)
    x[1, 4:] = 0
    logits = model(x)
    assert logits.shape == (2, 3)
    torch.testing.assert_close(model.forward_embedded(model.embed(x), torch.tensor([6, 4])), logits, atol=1e-12, rtol=0)
    torch.testing.assert_close(model(x[1:, :4]), logits[1:], atol=1e-12, rtol=0)
    junk = x.clone()
    junk[1, 4:] = 7  # ignored when lengths say only four tokens are real
    torch.testing.assert_close(model(junk, torch.tensor([6, 4])), logits, atol=1e-12, rtol=0)
    _, cache = run_with_cache(model, x)
    assert cache["hook_pooled"].shape == (2, 16) and cache["blocks.0.attn.hook_pattern"][1, ..., 4:].eq(0).all()


# ---- bad input -------------------------------------------------------------------------------

MHA, GPT_, CLF = mha_pair()[0], tiny_gpt(), tiny_classifier()
X = randn(2, 5, 12, grad=False)


@pytest.mark.parametrize(
    "call, error, text",
    [
        (lambda: MultiHeadAttention(10, 3), ValueError, "multiple of n_heads"),
        (lambda: MultiHeadAttention(0, 1), ValueError, "d_model"),
        (lambda: LayerNorm(4, eps=0), ValueError, "eps"),
        (lambda: LayerNorm(4).double()(randn(2, 5)), ValueError, "size 4"),
        (lambda: LayerNorm(4)(randn(2, 4)), TypeError, "float32"),
        (lambda: LayerNorm(4)(torch.ones(0, 4)), ValueError, "non-empty"),
        (lambda: FeedForward(4, 8, "tanh"), ValueError, "activation"),
        (lambda: LayerNorm.from_torch(nn.LayerNorm((2, 3))), ValueError, "normalized_shape"),
        (lambda: MultiHeadAttention.from_torch(nn.Linear(2, 2)), TypeError, "MultiheadAttention"),
        (lambda: MultiHeadAttention.from_torch(nn.MultiheadAttention(4, 2, kdim=3)), ValueError, "kdim"),
        (lambda: TransformerBlock.from_torch(nn.TransformerEncoderLayer(4, 2, 8)), ValueError, "norm_first"),
        (lambda: MHA(X, X, X[:, :, :6]), ValueError, "value"),
        (lambda: MHA(X, X[:1], X[:1]), ValueError, "batch size"),
        (lambda: MHA(X, X, X[:, :4]), ValueError, "number of keys"),
        (lambda: MHA(X.float(), X, X), TypeError, "float64"),
        (lambda: MHA(X.long(), X, X), TypeError, "floating"),
        (lambda: MHA(X * float("nan"), X, X), ValueError, "NaN"),
        (lambda: MHA(X, X, X / 0.0), ValueError, "infinity"),
        (lambda: MHA(X[:, :0], X, X), ValueError, "at least one"),
        (lambda: MHA(X, X, X, key_padding_mask=torch.zeros(2, 4, dtype=torch.bool)), ValueError, "key_padding_mask"),
        (lambda: MHA(X, X, X, attn_mask=torch.zeros(5, 5, dtype=torch.long)), TypeError, "attn_mask"),
        (lambda: MHA(X, X, X, attn_mask=torch.zeros(2, 5, 5, dtype=torch.bool)), ValueError, r"\(6, 5, 5\)"),
        (lambda: MHA(X, X, X, attn_mask=torch.full((5, 5), float("nan"), dtype=D64)), ValueError, "NaN"),
        (lambda: MHA(X, X, X, need_weights=1), TypeError, "need_weights"),
        (lambda: TransformerBlock(12, 3, 8)(X[0]), ValueError, "3-D"),
        (lambda: GPT_(ids(V=14, seed=3) + 1), ValueError, r"\[0, 13\)"),
        (lambda: GPT_(-ids()), ValueError, r"\[0, 13\)"),
        (lambda: GPT_(ids().double()), TypeError, "integer"),
        (lambda: GPT_(ids(T=13)), ValueError, "max_len=12"),
        (lambda: GPT_(ids(T=0)), ValueError, "at least one"),
        (lambda: GPT_.forward_embedded(randn(2, 5, 15)), ValueError, "size 16"),
        (lambda: GPT_.forward_embedded(randn(2, 5, 16).float()), TypeError, "float64"),
        (lambda: GPT_.generate(ids(), 3, temperature=-1.0), ValueError, "temperature"),
        (lambda: GPT_.generate(ids(), 3, top_k=0), ValueError, "top_k"),
        (lambda: GPT_.generate(ids(), 2.5), TypeError, "max_new_tokens"),
        (lambda: GPT_.generate(ids(), 2, generator=0), TypeError, "generator"),
        (lambda: GPT(10, d_model=8, n_heads=3), ValueError, "multiple of n_heads"),
        (lambda: GPT(10, max_len=0), ValueError, "max_len"),
        (lambda: CLF(torch.tensor([[3, 0, 4]])), ValueError, "padding id 0"),
        (lambda: CLF(torch.tensor([[0, 0, 0]])), ValueError, "at least one real token"),
        (lambda: CLF(ids(low=1), torch.tensor([3])), ValueError, "batch size"),
        (lambda: CLF(ids(low=1), torch.tensor([3, 8])), ValueError, "lengths"),
        (lambda: CLF(ids(low=1), torch.tensor([3.0, 2.0])), TypeError, "integer"),
        (lambda: TransformerClassifier(10, 1), ValueError, "n_classes"),
        (lambda: masked_softmax(torch.tensor([1.0, float("nan")])), ValueError, "NaN"),
        (lambda: masked_softmax(torch.tensor([1.0, float("inf")])), ValueError, r"\+inf"),
        (lambda: masked_softmax(torch.ones(3, 0)), ValueError, "at least one key"),
        (lambda: masked_softmax(torch.ones(3, dtype=torch.long)), TypeError, "floating"),
        (lambda: run_with_patches(MHA, X, X, X, patches={"hook_scores": lambda s: s * float("nan")}), ValueError, "NaN"),
    ],
)
def test_bad_input_is_named(call, error, text):
    with pytest.raises(error, match=text):
        call()
