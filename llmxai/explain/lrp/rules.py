"""LRP rules as small objects built from a few parts.

Every rule in Montavon et al. (2019, "Layer-Wise Relevance Propagation: An Overview",
DOI 10.1007/978-3-030-28954-6_10, sec. 10.2) has the generic form

    R_i = sum_t c_t sum_j z^t_ij / stab(z^t_j) R_j,   z^t_ij = sum_p in_p(a)_i w_p(w)_ij,

a sum of terms t with a coefficient c_t, each term a sum of parts p that modify the
input and the weights, and a stabiliser stab(z) = z + eps sign(z). The parts below
spell out each rule; `literal.py` writes the same rules as explicit formulas instead,
and the tests check that the two agree. (The split into parts follows the design of
zennit, Anders et al. 2021, arXiv 2106.13200; the code is our own.)
"""

from dataclasses import dataclass
from typing import Callable, Optional

import torch

from llmxai import validate


def identity(t):
    return t


def positive(t):
    return t.clamp(min=0)


def negative(t):
    return t.clamp(max=0)


def stabilize(z, epsilon):
    """z + eps * sign(z), with sign(+0) = +1 so that a zero denominator is pushed off zero."""
    if epsilon == 0:
        return z
    return z + torch.copysign(z.new_tensor(epsilon), z)


def safe_divide(num, den):
    """num / den, and 0 where den is exactly 0 (LRP-0 on a neuron with z_j = 0)."""
    return (num / den).masked_fill(den == 0, 0.0)


def stable_ratio(z, epsilon):
    """z / stab(z): the factor by which LRP-eps rescales the gradient at a layer's output (Ancona et al. 2018)."""
    if epsilon > 0:
        return z / stabilize(z, epsilon)
    return (z != 0).to(z.dtype)


@dataclass(frozen=True)
class Part:
    """One product in a term: modified input times modified weight."""

    inputs: Callable = identity
    weight: Callable = identity


@dataclass(frozen=True)
class Term:
    """c * sum_p in_p(a) w_p(W) (+ bias(b) when ``bias`` is not None)."""

    coefficient: float
    parts: tuple
    bias: Optional[Callable] = identity


class Rule:
    """A propagation rule for layers with weights (Linear, Conv1d, Conv2d)."""

    name = "rule"

    def __init__(self, terms, epsilon=0.0):
        self.terms = tuple(terms)
        self.epsilon = validate.number(epsilon, "epsilon", minimum=0)

    @property
    def plain(self):
        """True for LRP-0 / epsilon: one unmodified term, which the fast pass runs as a rescaled gradient."""
        if len(self.terms) != 1:
            return False
        (t,) = self.terms
        return (t.coefficient == 1 and t.bias is identity and len(t.parts) == 1
                and t.parts[0].inputs is identity and t.parts[0].weight is identity)

    def __repr__(self):
        return f"{type(self).__name__}(epsilon={self.epsilon})"


class Zero(Rule):
    """LRP-0: R_i = sum_j a_i w_ij / z_j R_j (Bach et al. 2015)."""

    name = "zero"

    def __init__(self):
        super().__init__([Term(1.0, (Part(),))], epsilon=0.0)


class Epsilon(Rule):
    """LRP-eps: R_i = sum_j a_i w_ij / (z_j + eps sign z_j) R_j (Montavon et al. 2019, sec. 10.2.1)."""

    name = "epsilon"

    def __init__(self, epsilon=1e-6):
        super().__init__([Term(1.0, (Part(),))], epsilon=epsilon)


class Gamma(Rule):
    """LRP-gamma: weights w + gamma w^+ and bias b + gamma b^+ (Montavon et al. 2019, sec. 10.2.1)."""

    name = "gamma"

    def __init__(self, gamma=0.25, epsilon=1e-9):
        self.gamma = validate.number(gamma, "gamma", minimum=0)
        g = self.gamma
        bump = lambda w: w + g * w.clamp(min=0)  # noqa: E731
        super().__init__([Term(1.0, (Part(identity, bump),), bias=bump)], epsilon=epsilon)

    def __repr__(self):
        return f"Gamma(gamma={self.gamma}, epsilon={self.epsilon})"


class AlphaBeta(Rule):
    """LRP-alpha-beta: alpha z^+_ij / z^+_j - beta z^-_ij / z^-_j, bias ignored (Bach et al. 2015).

    z^+_ij = (a_i w_ij)^+ = a_i^+ w_ij^+ + a_i^- w_ij^-, and likewise z^-; with
    alpha - beta = 1 the layer's relevance is conserved.
    """

    name = "alpha_beta"

    def __init__(self, alpha=2.0, beta=1.0, epsilon=1e-9):
        alpha, beta = validate.number(alpha, "alpha"), validate.number(beta, "beta")
        if alpha - beta != 1 or beta < 0:
            raise ValueError(f"alpha, beta: expected alpha - beta = 1 and beta >= 0, got {alpha}, {beta}")
        self.alpha, self.beta = alpha, beta
        pos = (Part(positive, positive), Part(negative, negative))
        neg = (Part(positive, negative), Part(negative, positive))
        terms = [Term(alpha, pos, bias=None)]
        if beta:
            terms.append(Term(-beta, neg, bias=None))
        super().__init__(terms, epsilon=epsilon)

    def __repr__(self):
        return f"{type(self).__name__}(alpha={self.alpha}, beta={self.beta})"


class ZPlus(AlphaBeta):
    """LRP-z+: alpha = 1, beta = 0; for ReLU inputs a >= 0 it is w^+ (Montavon et al. 2019)."""

    name = "zplus"

    def __init__(self, epsilon=1e-9):
        super().__init__(1.0, 0.0, epsilon=epsilon)


class ZBox(Rule):
    """LRP-z^B for inputs in [low, high]: z_ij = x_i w_ij - l_i w_ij^+ - h_i w_ij^-.

    Montavon et al. 2017, DOI 10.1016/j.patcog.2016.11.008.

    Meant for the first layer; ``low`` and ``high`` are numbers or tensors broadcastable
    to the layer's input.
    """

    name = "zbox"

    def __init__(self, low, high, epsilon=1e-9):
        for name, bound in (("low", low), ("high", high)):
            if isinstance(bound, torch.Tensor) and bound.dim():
                validate.tensor(bound, name, floating=True)
            else:
                validate.number(bound, name)
        self.low, self.high = low, high
        lo = lambda a: -torch.as_tensor(low, dtype=a.dtype, device=a.device).expand_as(a)  # noqa: E731
        hi = lambda a: -torch.as_tensor(high, dtype=a.dtype, device=a.device).expand_as(a)  # noqa: E731
        parts = (Part(), Part(lo, positive), Part(hi, negative))
        super().__init__([Term(1.0, parts, bias=None)], epsilon=epsilon)

    def __repr__(self):
        return f"ZBox(low={self.low}, high={self.high})"


class Flat(Rule):
    """LRP-flat: every input of a neuron gets an equal share, z_ij = 1.

    Lapuschkin et al. 2019, DOI 10.1038/s41467-019-08987-4.
    """

    name = "flat"

    def __init__(self, epsilon=1e-9):
        ones = torch.ones_like
        super().__init__([Term(1.0, (Part(ones, ones),), bias=None)], epsilon=epsilon)


# Rules for layers without weights: relevance passes unchanged ("pass", e.g. an
# elementwise activation) or as gradient x input of the module ("gradient").
PASS, GRADIENT = "pass", "gradient"
NAMES = ("zero", "epsilon", "gamma", "zplus", "alpha_beta", "flat", PASS, GRADIENT)


def make_rule(spec, epsilon=1e-6, gamma=0.25):
    """A Rule (or "pass" / "gradient") from a rule object or one of the names in ``NAMES``."""
    if isinstance(spec, Rule) or spec in (PASS, GRADIENT):
        return spec
    if spec == "zero":
        return Zero()
    if spec == "epsilon":
        return Epsilon(epsilon)
    if spec == "gamma":
        return Gamma(gamma)
    if spec == "zplus":
        return ZPlus()
    if spec == "alpha_beta":
        return AlphaBeta(2.0, 1.0)
    if spec == "flat":
        return Flat()
    if spec == "zbox":
        raise ValueError("rule 'zbox' needs the input bounds: give ZBox(low=..., high=...) instead of the name")
    raise ValueError(f"rule: expected a Rule object or one of {list(NAMES)}, got {spec!r}")


def lookup(name, module, rule_map):
    """The rule_map entry for a module: first by dotted name (exact, or a parent's name), then by type."""
    if not rule_map:
        return None
    for key, spec in rule_map.items():
        if isinstance(key, str) and (name == key or name.startswith(key + ".")):
            return spec
    for key, spec in rule_map.items():
        if isinstance(key, type) and isinstance(module, key):
            return spec
    return None


def check_rule_map(rule_map, model):
    """Reject keys that are neither a module type nor the name of a module in ``model``."""
    if rule_map is None:
        return
    if not isinstance(rule_map, dict):
        raise TypeError(f"rule_map: expected a dict from layer type or name to rule, got {type(rule_map).__name__}")
    names = [n for n, _ in model.named_modules() if n]
    for key in rule_map:
        if isinstance(key, type):
            continue
        if not isinstance(key, str):
            raise TypeError(f"rule_map: expected keys that are module types or dotted names, got {key!r}")
        if key not in names:
            raise ValueError(f"rule_map: no layer named {key!r}; valid names are {names}")
