"""A scalar reverse-mode autograd engine, small enough to read in one sitting.

Each ``Value`` remembers the values it was computed from together with the local
derivative of the operation with respect to each of them. ``backward()`` visits the
graph from the output back to the inputs (reverse topological order) and applies the
chain rule: ``input.grad += local_derivative * output.grad``. The ``+=`` matters: a value
used twice receives a gradient along both paths (Rumelhart, Hinton & Williams 1986,
doi:10.1038/323533a0; Griewank & Walther 2008, "Evaluating Derivatives", SIAM).
"""

import math
from numbers import Real


class Value:
    """A scalar that records how it was computed, so its gradient can be taken."""

    def __init__(self, data, label=""):
        if isinstance(data, bool) or not isinstance(data, Real):
            raise TypeError(f"data: expected a real number, got {type(data).__name__}")
        self.data = float(data)
        self.grad = 0.0
        self.label = label
        self.op = ""  # the operation that made this value; "" for an input
        self.parents = ()  # ((input Value, d self / d input), ...)

    def __repr__(self):
        name = f"{self.label}: " if self.label else ""
        return f"Value({name}data={self.data:.6g}, grad={self.grad:.6g})"

    @staticmethod
    def _make(data, op, *parents):
        out = Value(data)
        out.op, out.parents = op, parents
        return out

    # Binary operations. A plain number is wrapped as a constant Value.
    def __add__(self, other):
        other = _lift(other)
        if other is NotImplemented:
            return other
        return Value._make(self.data + other.data, "+", (self, 1.0), (other, 1.0))

    def __mul__(self, other):
        other = _lift(other)
        if other is NotImplemented:
            return other
        return Value._make(self.data * other.data, "*", (self, other.data), (other, self.data))

    def __pow__(self, k):
        if isinstance(k, bool) or not isinstance(k, Real):
            return NotImplemented
        k = float(k)
        if self.data == 0 and k < 0:
            raise ValueError(f"pow: 0 ** {k} is undefined")
        if self.data < 0 and not k.is_integer():
            raise ValueError(f"pow: a negative base ({self.data}) needs an integer exponent, got {k}")
        if k == 0:
            local = 0.0
        elif self.data == 0 and k < 1:
            local = math.inf  # the slope of a root at zero is vertical, as torch reports too
        else:
            local = k * self.data ** (k - 1)
        return Value._make(self.data**k, f"**{k:g}", (self, local))

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        other = _lift(other)
        return other if other is NotImplemented else self + (-other)

    def __truediv__(self, other):
        other = _lift(other)
        if other is NotImplemented:
            return other
        if other.data == 0:
            raise ZeroDivisionError("division of a Value by zero")
        return self * other**-1

    # Reflected versions, so that 2 + v, 2 - v, 2 * v and 2 / v work.
    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        other = _lift(other)
        return other if other is NotImplemented else other - self

    def __rtruediv__(self, other):
        other = _lift(other)
        return other if other is NotImplemented else other / self

    # Functions of one value, each with its derivative.
    def exp(self):
        e = math.exp(self.data)
        return Value._make(e, "exp", (self, e))

    def log(self):
        if self.data <= 0:
            raise ValueError(f"log: expected a positive value, got {self.data}")
        return Value._make(math.log(self.data), "log", (self, 1.0 / self.data))

    def tanh(self):
        t = math.tanh(self.data)
        return Value._make(t, "tanh", (self, 1.0 - t * t))

    def sigmoid(self):
        # Two forms of 1 / (1 + e^-x), each used where its exponential cannot overflow.
        x = self.data
        s = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
        return Value._make(s, "sigmoid", (self, s * (1.0 - s)))

    def relu(self):
        return Value._make(max(self.data, 0.0), "relu", (self, 1.0 if self.data > 0 else 0.0))

    def backward(self):
        """Set ``.grad`` of every value in the graph to ``d self / d value``."""
        nodes, _ = graph(self)
        for node in nodes:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(nodes):  # outputs before the values they were made from
            for parent, local in node.parents:
                parent.grad += local * node.grad


def _lift(x):
    if isinstance(x, Value):
        return x
    if isinstance(x, Real) and not isinstance(x, bool):
        return Value(x)
    return NotImplemented


def graph(root):
    """Return ``(nodes, edges)`` of the graph that computed ``root``.

    ``nodes`` is in topological order (every value after the values it was made from,
    ``root`` last); ``edges`` lists ``(parent, child)`` pairs, once per use, for drawing.
    """
    if not isinstance(root, Value):
        raise TypeError(f"root: expected a Value, got {type(root).__name__}")
    nodes, edges, seen = [], [], set()
    stack = [(root, False)]
    while stack:  # depth-first, without recursion, so long chains do not hit Python's limit
        node, children_done = stack.pop()
        if children_done:
            nodes.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for parent, _ in node.parents:
            edges.append((parent, node))
            if id(parent) not in seen:
                stack.append((parent, False))
    return nodes, edges
