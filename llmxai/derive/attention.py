"""Symbolic derivations behind scaled dot-product attention (SymPy).

The chapter on attention displays these expressions; the tests check them against
autograd. Sizes are kept small because symbolic expressions grow fast.
"""

from collections import namedtuple

import sympy as sp
import torch

from llmxai import validate

SoftmaxJacobian = namedtuple("SoftmaxJacobian", "z p jacobian closed_form function")
QJacobian = namedtuple("QJacobian", "q K V output jacobian closed_form function")


def softmax(z):
    """Softmax of a SymPy column vector: ``p_i = exp(z_i) / sum_j exp(z_j)``."""
    z = sp.Matrix(z)
    e = z.applyfunc(sp.exp)
    return e / sum(e)


def _size(n, name, minimum=1):
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{name}: expected an int, got {type(n).__name__}")
    if not minimum <= n <= 4:
        raise ValueError(f"{name}: expected a size from {minimum} to 4 (symbolic algebra grows fast), got {n}")
    return n


def _zero(expr_matrix):
    """True when every entry cancels to zero (expanding first lets exp(a + b) = exp(a) exp(b) cancel)."""
    return all(sp.cancel(sp.together(sp.expand(e))) == 0 for e in expr_matrix)


def softmax_jacobian(n=3):
    """Differentiate ``p = softmax(z)`` for ``n`` symbolic logits and prove ``dp/dz = diag(p) - p p^T``.

    Returns ``SoftmaxJacobian(z, p, jacobian, closed_form, function)``: the symbols, the
    softmax, the Jacobian obtained by differentiating entry by entry, the closed form
    written with the same softmax entries (the two are checked to agree symbolically),
    and ``function(z) -> (n, n)`` NumPy array lambdified from the derived Jacobian.
    """
    _size(n, "n")
    z = sp.Matrix(sp.symbols(f"z_1:{n + 1}", real=True))
    p = softmax(z)
    jacobian = p.jacobian(z)
    closed_form = sp.diag(*p) - p * p.T
    if not _zero(jacobian - closed_form):
        raise AssertionError("softmax Jacobian: differentiation and diag(p) - p p^T disagree")
    function = sp.lambdify([list(z)], jacobian, modules="numpy")
    return SoftmaxJacobian(z, p, jacobian, closed_form, function)


def attention_q_jacobian(T=2, d_k=2, d_v=2):
    """Differentiate one query's attention output ``o = V^T softmax(K q / sqrt(d_k))`` with respect to ``q``.

    Rows of ``Q`` do not interact, so one query is the whole story (Vaswani et al. 2017,
    eq. 1). The chain rule gives ``do/dq = V^T (diag(p) - p p^T) K / sqrt(d_k)``
    with ``p = softmax(K q / sqrt(d_k))``; this function derives ``do/dq`` by
    differentiating the full expression, checks it against that closed form
    symbolically, and returns ``QJacobian(q, K, V, output, jacobian, closed_form,
    function)`` with ``function(q, K, V) -> (d_v, d_k)`` NumPy array.
    """
    _size(T, "T")
    _size(d_k, "d_k")
    _size(d_v, "d_v")
    q = sp.Matrix(sp.symbols(f"q_1:{d_k + 1}", real=True))  # (d_k, 1)
    K = sp.Matrix(T, d_k, lambda i, j: sp.Symbol(f"k_{i + 1}{j + 1}", real=True))  # (T, d_k)
    V = sp.Matrix(T, d_v, lambda i, j: sp.Symbol(f"v_{i + 1}{j + 1}", real=True))  # (T, d_v)
    p = softmax(K * q / sp.sqrt(d_k))  # (T, 1)
    output = V.T * p  # (d_v, 1)
    jacobian = output.jacobian(q)  # (d_v, d_k)
    closed_form = V.T * (sp.diag(*p) - p * p.T) * K / sp.sqrt(d_k)
    if not _zero(jacobian - closed_form):
        raise AssertionError("attention: d(output)/dq from differentiation and the chain rule disagree")
    function = sp.lambdify([list(q), K.tolist(), V.tolist()], jacobian, modules="numpy")
    return QJacobian(q, K, V, output, jacobian, closed_form, function)


def attention_grad_q(q, k, v, grad_output, scale=None):
    """Gradient of ``sum(grad_output * attention(q, k, v))`` with respect to ``q``, by the closed form.

    ``dQ = scale * dS K`` with ``dS = P * (dP - rowsum(P * dP))`` and ``dP = grad_output V^T``:
    each row of ``dS`` is the softmax Jacobian ``diag(p) - p p^T`` applied to that row of ``dP``
    (Vaswani et al. 2017, eq. 1, differentiated by the chain rule). No mask.
    """
    for name, t in (("q", q), ("k", k), ("v", v), ("grad_output", grad_output)):
        validate.tensor(t, name, min_ndim=2, floating=True)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k: expected the same feature size d_k, got {q.shape[-1]} and {k.shape[-1]}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k and v: expected the same number of keys, got {k.shape[-2]} and {v.shape[-2]}")
    expected = (*q.shape[:-1], v.shape[-1])
    if tuple(grad_output.shape[-2:]) != expected[-2:]:
        raise ValueError(f"grad_output: expected shape (..., {expected[-2]}, {expected[-1]}), "
                         f"got {tuple(grad_output.shape)}")
    scale = q.shape[-1] ** -0.5 if scale is None else float(scale)
    P = torch.softmax((q @ k.transpose(-2, -1)) * scale, dim=-1)  # (..., Tq, Tk)
    dP = grad_output @ v.transpose(-2, -1)  # (..., Tq, Tk)
    dS = P * (dP - (P * dP).sum(-1, keepdim=True))  # (..., Tq, Tk)
    return scale * dS @ k  # (..., Tq, d_k)
