import pytest
import torch
import torch.nn.functional as F

from llmxai.nn import causal_mask, padding_mask, scaled_dot_product_attention as sdpa


def qkv(B=2, H=3, Tq=5, Tk=6, d_k=4, d_v=7, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    make = lambda *s: torch.randn(*s, generator=g, dtype=dtype, requires_grad=True)
    return make(B, H, Tq, d_k), make(B, H, Tk, d_k), make(B, H, Tk, d_v)


def grads(fn, q, k, v, upstream):
    out = fn(q, k, v)
    return [out] + list(torch.autograd.grad(out, (q, k, v), upstream))


@pytest.mark.parametrize("mask_kind", ["none", "bool", "float", "causal"])
def test_equals_torch_sdpa_values_and_gradients(mask_kind):
    q, k, v = qkv(Tq=6, Tk=6)
    g = torch.Generator().manual_seed(1)
    mask = {
        "none": None,
        "bool": torch.rand(6, 6, generator=g) > 0.4,
        "float": torch.randn(6, 6, generator=g, dtype=torch.float64),
        "causal": causal_mask(6),
    }[mask_kind]
    if mask is not None and mask.dtype == torch.bool:
        mask[:, 0] = True  # keep every row attendable: torch and we agree there by definition
    upstream = torch.randn(2, 3, 6, 7, generator=g, dtype=torch.float64)
    ours = grads(lambda q, k, v: sdpa(q, k, v, mask)[0], q, k, v, upstream)
    theirs = grads(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask), q, k, v, upstream)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


def test_weights_are_a_distribution_over_keys():
    q, k, v = qkv()
    _, w = sdpa(q, k, v)
    assert w.shape == (2, 3, 5, 6)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3, 5, dtype=torch.float64))
    assert (w >= 0).all()


def test_single_key_returns_its_value():
    q, k, v = qkv(Tk=1)
    out, w = sdpa(q, k, v)
    assert torch.equal(w, torch.ones_like(w))
    torch.testing.assert_close(out, v.expand_as(out))


def test_stable_for_huge_scores():
    q = torch.full((1, 2, 4), 1e4)
    k = torch.randn(1, 3, 4) * 1e3
    out, w = sdpa(q, k, torch.randn(1, 3, 5))
    assert torch.isfinite(out).all() and torch.isfinite(w).all()


def test_fully_masked_row_is_zero_with_zero_gradient():
    q, k, v = qkv()
    mask = torch.ones(5, 6, dtype=torch.bool)
    mask[2] = False
    out, w = sdpa(q, k, v, mask)
    assert torch.equal(w[..., 2, :], torch.zeros_like(w[..., 2, :]))
    assert torch.equal(out[..., 2, :], torch.zeros_like(out[..., 2, :]))
    out.sum().backward()
    assert torch.isfinite(q.grad).all() and torch.equal(q.grad[..., 2, :], torch.zeros_like(q.grad[..., 2, :]))


def test_padding_mask_blocks_padded_keys():
    q, k, v = qkv(B=2, H=1, Tq=3, Tk=4)
    _, w = sdpa(q, k, v, padding_mask(torch.tensor([2, 4]), 4)[:, None])
    assert torch.equal(w[0, ..., 2:], torch.zeros_like(w[0, ..., 2:]))
    assert (w[1] > 0).all()


def test_causal_mask_shape_and_content():
    m = causal_mask(4)
    assert m.dtype == torch.bool and m[0].tolist() == [True, False, False, False] and m[3].all()


@pytest.mark.parametrize(
    "make, error, text",
    [
        (lambda: (torch.randn(2, 3, 4), torch.randn(2, 5, 3), torch.randn(2, 5, 2), None), ValueError, "d_k"),
        (lambda: (torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 6, 2), None), ValueError, "Tk"),
        (lambda: (torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 2), torch.ones(4, 4, dtype=torch.bool)), ValueError, "broadcasts"),
        (lambda: (torch.ones(2, 3, 4, dtype=torch.long),) * 3 + (None,), TypeError, "floating"),
        (lambda: (torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 2), torch.ones(3, 5, dtype=torch.long)), TypeError, "mask"),
        (lambda: (torch.tensor([[[float("nan")] * 4]]), torch.randn(1, 5, 4), torch.randn(1, 5, 2), None), ValueError, "NaN"),
        (lambda: ([[1.0]], torch.randn(1, 5, 4), torch.randn(1, 5, 2), None), TypeError, "torch.Tensor"),
    ],
)
def test_bad_input_is_named(make, error, text):
    q, k, v, mask = make()
    with pytest.raises(error, match=text):
        sdpa(q, k, v, mask)
