import numpy as np
import pytest
import sympy as sp
import torch
import torch.nn.functional as F

from llmxai.derive.attention import _zero
from llmxai.derive.layernorm import layer_norm_jacobian


@pytest.mark.parametrize("d, eps", [(2, 1e-5), (3, 0.5)])
def test_layer_norm_jacobian_matches_autograd(d, eps):
    ln = layer_norm_jacobian(d)
    assert ln.jacobian.shape == (d, d)
    x = torch.tensor([0.3, -1.2, 2.0][:d], dtype=torch.float64)
    autograd = torch.autograd.functional.jacobian(lambda x: F.layer_norm(x, (d,), eps=eps), x)
    derived = torch.as_tensor(np.asarray(ln.function(x.tolist(), eps), dtype=np.float64))
    torch.testing.assert_close(derived, autograd, atol=1e-12, rtol=0)
    closed = sp.lambdify([list(ln.x), ln.eps], ln.closed_form)(x.tolist(), eps)
    torch.testing.assert_close(torch.as_tensor(np.asarray(closed, dtype=np.float64)), autograd, atol=1e-12, rtol=0)


def test_layer_norm_output_and_the_missing_term_is_caught():
    ln = layer_norm_jacobian(3)
    assert sp.simplify(sum(ln.y)) == 0  # the normalised vector has mean zero
    # forgetting that sigma depends on x drops the -y y^T / d term; the check must see that
    assert not _zero(ln.jacobian - (sp.eye(3) - sp.ones(3, 3) / 3) / ln.sigma)


@pytest.mark.parametrize("bad, error", [(1, ValueError), (5, ValueError), (True, TypeError), (3.0, TypeError)])
def test_size_is_checked(bad, error):
    with pytest.raises(error, match="expected"):
        layer_norm_jacobian(bad)
