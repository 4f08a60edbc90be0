import math

import numpy as np
import pytest
import sympy as sp
import torch

from llmxai.derive import attention as derive
from llmxai.nn import scaled_dot_product_attention as sdpa


def test_softmax_jacobian_matches_autograd_and_closed_form():
    sm = derive.softmax_jacobian(4)
    assert sm.jacobian.shape == (4, 4)
    z = torch.tensor([0.3, -1.2, 2.0, 0.7], dtype=torch.float64)
    autograd = torch.autograd.functional.jacobian(lambda z: torch.softmax(z, -1), z)
    derived = torch.as_tensor(np.asarray(sm.function(z.tolist()), dtype=np.float64))
    torch.testing.assert_close(derived, autograd, atol=1e-12, rtol=0)
    closed = sp.lambdify([list(sm.z)], sm.closed_form)(z.tolist())
    torch.testing.assert_close(torch.as_tensor(np.asarray(closed, dtype=np.float64)), autograd, atol=1e-12, rtol=0)


def test_softmax_is_symbolic_softmax():
    z = sp.Matrix(sp.symbols("a b"))
    p = derive.softmax(z)
    assert sp.simplify(sum(p) - 1) == 0
    assert p.subs({z[0]: 0, z[1]: 0}) == sp.Matrix([sp.Rational(1, 2), sp.Rational(1, 2)])


def test_zero_check_can_fail():
    z = sp.Matrix(sp.symbols("z_1:4", real=True))
    p = derive.softmax(z)
    assert derive._zero(p.jacobian(z) - (sp.diag(*p) - p * p.T))
    assert not derive._zero(p.jacobian(z) - sp.diag(*p))  # the common mistake: forgetting -p p^T


@pytest.mark.parametrize("T, d_k, d_v", [(2, 1, 1), (3, 2, 2)])
def test_attention_q_jacobian_matches_autograd(T, d_k, d_v):
    aq = derive.attention_q_jacobian(T, d_k, d_v)
    assert aq.jacobian.shape == (d_v, d_k)
    g = torch.Generator().manual_seed(T)
    q = torch.randn(d_k, generator=g, dtype=torch.float64)
    K = torch.randn(T, d_k, generator=g, dtype=torch.float64)
    V = torch.randn(T, d_v, generator=g, dtype=torch.float64)
    autograd = torch.autograd.functional.jacobian(lambda q: sdpa(q[None], K, V)[0][0], q)
    derived = torch.as_tensor(np.asarray(aq.function(q.tolist(), K.tolist(), V.tolist()), dtype=np.float64))
    torch.testing.assert_close(derived.reshape(d_v, d_k), autograd, atol=1e-12, rtol=0)


def test_attention_grad_q_matches_autograd_with_batch_dims_and_scale():
    g = torch.Generator().manual_seed(0)
    q = torch.randn(2, 3, 5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    k = torch.randn(2, 3, 6, 4, generator=g, dtype=torch.float64)
    v = torch.randn(2, 3, 6, 7, generator=g, dtype=torch.float64)
    G = torch.randn(2, 3, 5, 7, generator=g, dtype=torch.float64)
    for scale in (None, 0.3):
        (expected,) = torch.autograd.grad(sdpa(q, k, v, scale=scale)[0], q, G)
        torch.testing.assert_close(derive.attention_grad_q(q.detach(), k, v, G, scale=scale), expected,
                                   atol=1e-10, rtol=0)


@pytest.mark.parametrize("bad, error", [(0, ValueError), (5, ValueError), (True, TypeError), (2.0, TypeError)])
def test_sizes_are_checked(bad, error):
    with pytest.raises(error, match="expected"):
        derive.softmax_jacobian(bad)
    with pytest.raises(error, match="expected"):
        derive.attention_q_jacobian(T=bad)


def test_attention_grad_q_rejects_bad_input():
    q, k, v, G = torch.randn(3, 4), torch.randn(5, 4), torch.randn(5, 2), torch.randn(3, 2)
    with pytest.raises(TypeError, match="floating"):
        derive.attention_grad_q(q.long(), k, v, G)
    with pytest.raises(ValueError, match="d_k"):
        derive.attention_grad_q(torch.randn(3, 8), k, v, G)
    with pytest.raises(ValueError, match="number of keys"):
        derive.attention_grad_q(q, k, torch.randn(4, 2), G)
    with pytest.raises(ValueError, match="grad_output"):
        derive.attention_grad_q(q, k, v, torch.randn(3, 3))
    with pytest.raises(ValueError, match="finite"):
        derive.attention_grad_q(q, k, v, torch.full((3, 2), math.nan))
