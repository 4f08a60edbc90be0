"""SymPy derivations behind the gradient-descent and backpropagation chapters.

Each function returns a dict of SymPy expressions, ready to display in a notebook, with a
``difference`` entry that simplifies to zero when the textbook formula is right, and a
lambdified numeric function where a chapter or a test evaluates the result.
"""

import sympy as sp

from llmxai import validate


def _size(n, minimum):
    validate.positive_int(n, "n", minimum=minimum)
    if n > 6:
        raise ValueError(f"n: expected at most 6 (symbolic simplification grows fast), got {n}")
    return n


def softmax_cross_entropy_grad(n=3):
    """Gradient of ``L = -sum_i y_i log softmax(z)_i`` with respect to the logits ``z``.

    ``dL/dz_k = -y_k + p_k sum_i y_i``, which is ``p - y`` because a target distribution
    sums to one (Bridle 1990, "Probabilistic interpretation of feedforward classification
    network outputs", doi:10.1007/978-3-642-76153-9_28). Keys: ``z``, ``y``, ``p``, ``loss``,
    ``grad`` (as differentiated), ``p_minus_y``, ``difference`` (zero with ``y_n = 1 - sum y_<n``),
    ``grad_fn(z, y)`` (numeric ``p - y``).
    """
    n = _size(n, minimum=2)
    z = sp.symbols(f"z1:{n + 1}", real=True)
    y = sp.symbols(f"y1:{n + 1}", nonnegative=True)
    total = sum(sp.exp(zi) for zi in z)
    p = [sp.exp(zi) / total for zi in z]
    loss = -sum(yi * (zi - sp.log(total)) for yi, zi in zip(y, z))  # log p_i = z_i - log sum_j e^{z_j}
    grad = [sp.diff(loss, zk) for zk in z]
    p_minus_y = [pk - yk for pk, yk in zip(p, y)]
    on_simplex = {y[-1]: 1 - sum(y[:-1])}
    difference = [sp.simplify((g - d).subs(on_simplex)) for g, d in zip(grad, p_minus_y)]
    return {
        "z": z, "y": y, "p": p, "loss": loss, "grad": grad, "p_minus_y": p_minus_y,
        "difference": difference, "grad_fn": sp.lambdify((z, y), p_minus_y, "math"),
    }


def mse_grad(n=3):
    """Gradient of ``L = (1/n) sum_i (yhat_i - y_i)^2``: ``dL/dyhat_i = (2/n)(yhat_i - y_i)``.
    Keys: ``yhat``, ``y``, ``loss``, ``grad``, ``expected``, ``difference``, ``grad_fn(yhat, y)``."""
    n = _size(n, minimum=1)
    yhat = sp.symbols(f"yhat1:{n + 1}", real=True)
    y = sp.symbols(f"y1:{n + 1}", real=True)
    loss = sum((a - b) ** 2 for a, b in zip(yhat, y)) / n
    grad = [sp.diff(loss, a) for a in yhat]
    expected = [sp.Rational(2, n) * (a - b) for a, b in zip(yhat, y)]
    return {
        "yhat": yhat, "y": y, "loss": loss, "grad": grad, "expected": expected,
        "difference": [sp.simplify(g - e) for g, e in zip(grad, expected)],
        "grad_fn": sp.lambdify((yhat, y), grad, "math"),
    }


def sigmoid_derivative():
    """``d/dx sigma(x) = sigma(x) (1 - sigma(x))`` for ``sigma(x) = 1 / (1 + e^{-x})``.
    Keys: ``x``, ``sigma``, ``derivative``, ``expected``, ``difference``, ``derivative_fn(x)``."""
    x = sp.symbols("x", real=True)
    sigma = 1 / (1 + sp.exp(-x))
    derivative = sp.diff(sigma, x)
    expected = sigma * (1 - sigma)
    return {
        "x": x, "sigma": sigma, "derivative": derivative, "expected": expected,
        "difference": sp.simplify(derivative - expected),
        "derivative_fn": sp.lambdify(x, derivative, "math"),
    }


def linear_regression_step_symbolic():
    """One gradient-descent step on ``L = (w x + b - y)^2`` with learning rate ``alpha``, symbolically.

    Keys: the symbols ``w, b, x, y, alpha``; ``prediction``, ``loss``, ``grad_w``, ``grad_b``,
    ``new_w``, ``new_b``, ``new_loss``; ``step_fn(w, b, x, y, alpha)`` returning
    ``(loss, grad_w, grad_b, new_w, new_b)`` as numbers.
    """
    w, b, x, y, alpha = sp.symbols("w b x y alpha", real=True)
    prediction = w * x + b
    loss = (prediction - y) ** 2
    grad_w, grad_b = sp.factor(sp.diff(loss, w)), sp.factor(sp.diff(loss, b))
    new_w, new_b = w - alpha * grad_w, b - alpha * grad_b
    new_loss = loss.subs({w: new_w, b: new_b}, simultaneous=True)
    return {
        "w": w, "b": b, "x": x, "y": y, "alpha": alpha,
        "prediction": prediction, "loss": loss, "grad_w": grad_w, "grad_b": grad_b,
        "new_w": new_w, "new_b": new_b, "new_loss": new_loss,
        "step_fn": sp.lambdify((w, b, x, y, alpha), (loss, grad_w, grad_b, new_w, new_b), "math"),
    }
