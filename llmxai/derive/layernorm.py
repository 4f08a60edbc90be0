"""Symbolic derivation of the layer-normalisation Jacobian (SymPy).

The Transformer chapter displays it and the tests check it against autograd.
"""

from collections import namedtuple

import sympy as sp

from llmxai.derive.attention import _size, _zero

LayerNormJacobian = namedtuple("LayerNormJacobian", "x eps y sigma jacobian closed_form function")


def layer_norm_jacobian(d=3):
    """Differentiate ``y = (x - mu) / sigma`` for ``d`` symbolic features and prove the closed form.

    ``mu`` is the mean of ``x``, ``sigma = sqrt(mean((x - mu)^2) + eps)`` (Ba, Kiros and
    Hinton 2016, arXiv:1607.06450, sec. 3, without the gain and bias, which are
    elementwise). The derived Jacobian is checked symbolically to equal
    ``dy/dx = (I - 1 1^T / d - y y^T / d) / sigma``. Returns ``LayerNormJacobian(x, eps,
    y, sigma, jacobian, closed_form, function)`` with ``function(x, eps) -> (d, d)`` NumPy array.
    """
    _size(d, "d", minimum=2)
    x = sp.Matrix(sp.symbols(f"x_1:{d + 1}", real=True))  # (d, 1)
    eps = sp.Symbol("epsilon", positive=True)
    centred = x - sp.ones(d, 1) * sum(x) / d  # (d, 1)
    sigma = sp.sqrt(sum(c**2 for c in centred) / d + eps)
    y = centred / sigma  # (d, 1)
    jacobian = y.jacobian(x)  # (d, d)
    closed_form = (sp.eye(d) - sp.ones(d, d) / d - y * y.T / d) / sigma
    if not _zero(jacobian - closed_form):
        raise AssertionError("layer norm: differentiation and (I - 11^T/d - yy^T/d)/sigma disagree")
    function = sp.lambdify([list(x), eps], jacobian, modules="numpy")
    return LayerNormJacobian(x, eps, y, sigma, jacobian, closed_form, function)
