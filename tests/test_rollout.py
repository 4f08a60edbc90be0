import itertools

import pytest
import torch
from explain_tiny_models import TextCNN, TinyTransformer, ids_batch

from llmxai.explain import attention_flow, attention_maps, attention_rollout, attention_x_gradient, max_flow
from llmxai.hooks import run_with_cache, run_with_patches

TIGHT = dict(atol=1e-10, rtol=0)


@pytest.fixture
def model():
    return TinyTransformer(n_layers=3).double().eval()


def mixed(A, residual=0.5):
    """0.5 A + 0.5 I with rows renormalised, from head-averaged maps (the oracle)."""
    A = (1 - residual) * A.mean(2) + residual * torch.eye(A.shape[-1], dtype=A.dtype)
    return A / A.sum(-1, keepdim=True)


def test_attention_maps_stack_every_hook_pattern(model):
    ids = ids_batch(B=2, T=5)
    maps = attention_maps(model, ids)
    assert maps.shape == (3, 2, 2, 5, 5)
    _, cache = run_with_cache(model, ids)
    for i in range(3):
        torch.testing.assert_close(maps[i], cache[f"blocks.{i}.attn.hook_pattern"], **TIGHT)
    torch.testing.assert_close(maps.sum(-1), torch.ones(3, 2, 2, 5, dtype=torch.float64), **TIGHT)


@pytest.mark.parametrize("head_fusion", ["mean", "max", "min"])
def test_rollout_rows_sum_to_one(model, head_fusion):
    R = attention_rollout(model, ids_batch(B=3, T=6), head_fusion=head_fusion, lengths=torch.tensor([6, 4, 2]))
    assert R.shape == (3, 6, 6) and (R >= 0).all()
    torch.testing.assert_close(R.sum(-1), torch.ones(3, 6, dtype=torch.float64), **TIGHT)


def test_one_layer_without_residual_is_the_head_mean_attention():
    one = TinyTransformer(n_layers=1).double().eval()
    ids = ids_batch(B=2, T=5)
    torch.testing.assert_close(attention_rollout(one, ids, residual=0.0), attention_maps(one, ids)[0].mean(1), **TIGHT)


def test_rollout_is_the_product_of_mixed_layers(model):
    ids = ids_batch(B=2, T=5)
    A = mixed(attention_maps(model, ids))
    torch.testing.assert_close(attention_rollout(model, ids), A[2] @ A[1] @ A[0], **TIGHT)


def test_causal_rollout_is_lower_triangular():
    lm = TinyTransformer(lm=True).double().eval()
    R = attention_rollout(lm, ids_batch(B=1, T=6))
    assert float(R.triu(1).abs().max()) == 0.0


def test_max_flow_textbook_example():
    # Cormen et al., Introduction to Algorithms, 3rd ed., Fig. 26.1: maximum flow 23
    cap = torch.zeros(6, 6)
    for u, v, c in [(0, 1, 16), (0, 2, 13), (2, 1, 4), (1, 3, 12), (3, 2, 9), (2, 4, 14), (4, 3, 7), (3, 5, 20),
                    (4, 5, 4)]:
        cap[u, v] = c
    assert max_flow(cap, 0, 5) == pytest.approx(23.0)


def test_max_flow_equals_brute_force_min_cut():
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        n = 6
        cap = torch.rand(n, n, generator=g, dtype=torch.float64) * (torch.rand(n, n, generator=g) < 0.5)
        cap.fill_diagonal_(0)
        best = min(
            sum(float(cap[u, v]) for u in S for v in range(n) if v not in S)
            for r in range(n - 1)
            for rest in itertools.combinations(range(1, n - 1), r)
            for S in [{0, *rest}]
        )
        assert max_flow(cap, 0, n - 1) == pytest.approx(best, abs=1e-12)


def test_attention_flow_one_layer_is_the_mixed_attention():
    one = TinyTransformer(n_layers=1).double().eval()
    ids = ids_batch(B=2, T=4)
    torch.testing.assert_close(attention_flow(one, ids), mixed(attention_maps(one, ids))[0], **TIGHT)


def test_attention_flow_two_layers_by_hand():
    # In a 3-layer graph the paths j -> m -> i share no edge, so the max flow is the sum over
    # middle nodes m of the bottleneck min(A1'[m, j], A2'[i, m]).
    two = TinyTransformer(n_layers=2).double().eval()
    ids = ids_batch(B=1, T=4)
    A1, A2 = mixed(attention_maps(two, ids))[:, 0]
    expected = torch.minimum(A1[None, :, :], A2[:, :, None]).sum(1)  # [i, j] = sum_m min(A1[m, j], A2[i, m])
    torch.testing.assert_close(attention_flow(two, ids)[0], expected, **TIGHT)


def test_attention_x_gradient_per_layer_oracle(model):
    for p in model.parameters():
        p.requires_grad_(False)  # frozen weights must not matter
    ids, lengths = ids_batch(B=2, T=5), torch.tensor([5, 3])
    got = attention_x_gradient(model, ids, torch.tensor([1, 2]), lengths=lengths)
    assert got.shape == (3, 2, 2, 5, 5)
    _, cache = run_with_cache(model, ids, lengths=lengths)
    for i in range(3):
        name = f"blocks.{i}.attn.hook_pattern"
        P = cache[name].clone().requires_grad_(True)
        out = run_with_patches(model, ids, lengths=lengths, patches={name: lambda a: P})
        (dP,) = torch.autograd.grad(out.gather(1, torch.tensor([[1], [2]])).sum(), P)
        torch.testing.assert_close(got[i], P.detach() * dP, **TIGHT)
    assert got.abs().sum() > 0


def test_hooks_removed_after_an_exception(model):
    def explode(out):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        attention_x_gradient(model, ids_batch(), explode)
    assert not any(m._forward_hooks for m in model.modules())


def test_attention_methods_restore_training_mode(model):
    model.train()
    with pytest.warns(UserWarning, match="training mode"):
        attention_rollout(model, ids_batch())
    assert model.training


def test_bad_input(model):
    with pytest.raises(ValueError, match="hook_pattern"):
        attention_rollout(TextCNN(), ids_batch())
    with pytest.raises(TypeError, match="integer"):
        attention_maps(model, torch.zeros(2, 5))
    with pytest.raises(ValueError, match="head_fusion"):
        attention_rollout(model, ids_batch(), head_fusion="median")
    with pytest.raises(ValueError, match="residual"):
        attention_flow(model, ids_batch(), residual=1.5)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        attention_x_gradient(model, ids_batch(), 3)
    with pytest.raises(ValueError, match="non-negative"):
        max_flow(-torch.ones(3, 3), 0, 2)
    with pytest.raises(ValueError, match="differ"):
        max_flow(torch.ones(3, 3), 1, 1)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        max_flow(torch.ones(3, 3), 0, 3)
    with pytest.raises(ValueError, match="columns"):
        max_flow(torch.ones(3, 4), 0, 2)
