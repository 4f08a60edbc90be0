"""Backpropagation by hand: a sigmoid neuron, a two-layer sigmoid network in matrix form,
and gradient checking by central finite differences.

Notation for a batch ``x (B, d_in)``: ``Z1 = x W1 + b1``, ``A1 = sigma(Z1)``,
``Z2 = A1 W2 + b2``, ``A2 = sigma(Z2)``, ``L = mean((A2 - y)^2)``. Going backwards, each
layer turns ``dL/dA`` into ``delta = dL/dZ = dL/dA * sigma'(Z)`` with ``sigma' = sigma (1 - sigma)``,
then ``dL/dW = A_prev^T delta``, ``dL/db = sum over the batch of delta`` and
``dL/dA_prev = delta W^T`` (Rumelhart, Hinton & Williams 1986, doi:10.1038/323533a0).
"""

from dataclasses import dataclass
from numbers import Real

import torch

from llmxai import validate
from llmxai.optim.losses import mse
from llmxai.optim.optimizer import number
from llmxai.device import generator


def sigmoid(z):
    """``sigma(z) = 1 / (1 + exp(-z))``."""
    return torch.sigmoid(z)


@dataclass(frozen=True)
class Neuron:
    """The numbers of one sigmoid neuron: pre-activation ``z = w . x + b`` and output ``a = sigma(z)``."""

    z: float
    a: float


def sigmoid_neuron(x, w, b):
    """One sigmoid neuron ``a = sigma(w . x + b)`` on 1-D ``x`` and ``w``.

    With ``x = [1, 2, 3, 4]``, ``w = [0.1, 0.2, 0.3, 0.4]``, ``b = 0.5``:
    ``z = 0.1 + 0.4 + 0.9 + 1.6 + 0.5 = 3.5`` and ``a = sigma(3.5) = 0.9707``.
    """
    x, w = (torch.as_tensor(v, dtype=torch.float64) if isinstance(v, (list, tuple)) else v for v in (x, w))
    validate.tensor(x, "x", ndim=1, floating=True)
    validate.tensor(w, "w", ndim=1, floating=True)
    validate.same_size(x.shape[0], w.shape[0], "length of w (must match x)")
    if isinstance(b, bool) or not isinstance(b, (Real, torch.Tensor)):
        raise TypeError(f"b: expected a real number, got {type(b).__name__}")
    if isinstance(b, torch.Tensor) and b.numel() != 1:
        raise ValueError(f"b: expected a single number, got a tensor of shape {tuple(b.shape)}")
    z = float(w.double() @ x.double() + float(b))
    return Neuron(z=z, a=float(sigmoid(torch.tensor(z, dtype=torch.float64))))


class TwoLayerSigmoidNet:
    """``x -> sigma(x W1 + b1) -> sigma(. W2 + b2)``, with a forward and a backward pass written by hand."""

    def __init__(self, d_in, d_hidden, d_out, seed=0, dtype=torch.float64, device=None):
        for name, v in (("d_in", d_in), ("d_hidden", d_hidden), ("d_out", d_out)):
            validate.positive_int(v, name)
        g = generator(seed)
        init = lambda *shape, fan_in: (torch.randn(*shape, generator=g, dtype=dtype) / fan_in**0.5).to(device)
        self.W1 = init(d_in, d_hidden, fan_in=d_in)  # (d_in, d_hidden)
        self.b1 = init(d_hidden, fan_in=d_in)  # (d_hidden,)
        self.W2 = init(d_hidden, d_out, fan_in=d_hidden)  # (d_hidden, d_out)
        self.b2 = init(d_out, fan_in=d_hidden)  # (d_out,)

    @classmethod
    def from_weights(cls, W1, b1, W2, b2):
        """A network with the given weights, e.g. the numbers of a worked example."""
        validate.tensor(W1, "W1", ndim=2, floating=True)
        validate.tensor(W2, "W2", ndim=2, floating=True)
        d_in, d_hidden = W1.shape
        validate.same_size(d_hidden, W2.shape[0], "rows of W2 (must equal the columns of W1, d_hidden)")
        for name, b, size in (("b1", b1, d_hidden), ("b2", b2, W2.shape[1])):
            validate.tensor(b, name, ndim=1, floating=True)
            validate.same_size(size, b.shape[0], f"length of {name}")
        if len({t.dtype for t in (W1, b1, W2, b2)}) != 1:
            raise TypeError(f"W1, b1, W2, b2: expected one dtype, got {W1.dtype}, {b1.dtype}, {W2.dtype}, {b2.dtype}")
        net = cls.__new__(cls)
        net.W1, net.b1, net.W2, net.b2 = (t.detach().clone() for t in (W1, b1, W2, b2))
        return net

    def parameters(self):
        """The weights by name: ``{"W1", "b1", "W2", "b2"}``."""
        return {"W1": self.W1, "b1": self.b1, "W2": self.W2, "b2": self.b2}

    def forward(self, x):
        """Return the output ``A2 (B, d_out)`` and a cache of the intermediates the backward pass needs."""
        validate.tensor(x, "x", ndim=2, floating=True)
        validate.same_size(self.W1.shape[0], x.shape[1], "feature size of x (d_in)")
        if x.dtype != self.W1.dtype:
            raise TypeError(f"x: expected dtype {self.W1.dtype} like the weights, got {x.dtype}")
        Z1 = x @ self.W1 + self.b1  # (B, d_hidden)
        A1 = sigmoid(Z1)
        Z2 = A1 @ self.W2 + self.b2  # (B, d_out)
        A2 = sigmoid(Z2)
        return A2, {"x": x, "A1": A1, "A2": A2}

    def loss(self, A2, y):
        """Mean squared error over every output of every example."""
        return mse(A2, y)

    def backward(self, cache, y):
        """Gradients of ``mean((A2 - y)^2)``: ``{"W1", "b1", "W2", "b2", "x"}``, each shaped like its tensor."""
        x, A1, A2 = cache["x"], cache["A1"], cache["A2"]
        validate.tensor(y, "y", ndim=2, floating=True)
        if y.shape != A2.shape:
            raise ValueError(f"y: expected shape {tuple(A2.shape)} like the output, got {tuple(y.shape)}")
        dA2 = 2 * (A2 - y) / A2.numel()  # (B, d_out): the mean divides by every element
        delta2 = dA2 * A2 * (1 - A2)  # (B, d_out)
        dA1 = delta2 @ self.W2.T  # (B, d_hidden)
        delta1 = dA1 * A1 * (1 - A1)  # (B, d_hidden)
        return {
            "W2": A1.T @ delta2,  # (d_hidden, d_out)
            "b2": delta2.sum(0),
            "W1": x.T @ delta1,  # (d_in, d_hidden)
            "b1": delta1.sum(0),
            "x": delta1 @ self.W1.T,  # (B, d_in)
        }

    def update(self, grads, lr):
        """One gradient-descent step ``W <- W - lr * dL/dW`` on every weight."""
        lr = number(lr, "lr")
        missing = {"W1", "b1", "W2", "b2"} - set(grads)
        if missing:
            raise ValueError(f"grads: expected gradients for W1, b1, W2, b2, missing {sorted(missing)}")
        for name in ("W1", "b1", "W2", "b2"):
            setattr(self, name, getattr(self, name) - lr * grads[name])


def finite_difference_grad(f, x, eps=1e-6):
    """Estimate ``grad f(x)`` by central differences, ``(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)``
    for each element ``i``; the error shrinks like ``eps^2``. Use float64: in float32 the
    rounding error of ``f`` divided by ``eps`` swamps the estimate."""
    if not callable(f):
        raise TypeError(f"f: expected a function tensor -> scalar, got {type(f).__name__}")
    validate.tensor(x, "x", floating=True)
    if isinstance(eps, bool) or not isinstance(eps, Real) or not eps > 0:
        raise ValueError(f"eps: expected a positive number, got {eps!r}")
    x = x.detach().clone(memory_format=torch.contiguous_format)
    grad = torch.zeros_like(x)
    flat_x, flat_g = x.view(-1), grad.view(-1)
    for i in range(flat_x.numel()):
        original = flat_x[i].item()
        flat_x[i] = original + eps
        up = _scalar(f(x))
        flat_x[i] = original - eps
        down = _scalar(f(x))
        flat_x[i] = original
        flat_g[i] = (up - down) / (2 * eps)
    return grad


def _scalar(value):
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"f: expected a scalar output, got a tensor of shape {tuple(value.shape)}")
        return value.item()
    if isinstance(value, Real):
        return float(value)
    raise TypeError(f"f: expected a scalar output, got {type(value).__name__}")
