"""The variational autoencoder's objective, derived: the Gaussian KL term and the ELBO.

For an encoder ``q(z|x) = N(mu, sigma^2)``, a prior ``p(z) = N(0, 1)`` and a decoder
``p(x|z)``, the evidence lower bound is (Kingma & Welling 2014, "Auto-encoding variational
Bayes", ICLR, arXiv:1312.6114, eq. 3 and appendix B)

    ELBO = E_q[log p(x|z)] - KL(q(z|x) || p(z)) <= log p(x),

with a minus sign before a KL divergence between two distributions (not a distance to a
sample). The gap ``log p(x) - ELBO`` is ``KL(q(z|x) || p(z|x)) >= 0``, so the bound is tight
exactly when the encoder returns the true posterior. Samples are drawn by
reparameterisation, ``z = mu + sigma * eps`` with ``eps ~ N(0, 1)``.
"""

import math
from numbers import Real

import sympy as sp
import torch

from llmxai import validate
from llmxai.device import generator


def _normal_pdf(z, mean, std):
    return sp.exp(-((z - mean) ** 2) / (2 * std**2)) / sp.sqrt(2 * sp.pi * std**2)


def _normal_logpdf(z, mean, std):
    return -sp.log(2 * sp.pi * std**2) / 2 - (z - mean) ** 2 / (2 * std**2)


def _expectation(expr, z, mu, sigma):
    """``E_{z ~ N(mu, sigma^2)}[expr]`` for ``expr`` a polynomial in ``z``: by linearity, the sum of its
    coefficients times the moments ``E[z^k]``, each moment integrated against the density."""
    pdf = _normal_pdf(z, mu, sigma)
    poly = sp.Poly(sp.expand(expr), z)
    total = sum(coef * sp.integrate(z**k * pdf, (z, -sp.oo, sp.oo)) for (k,), coef in poly.terms())
    return sp.expand(sp.expand_log(total, force=True))


def gaussian_kl():
    """``KL(N(mu, sigma^2) || N(0, 1)) = integral q(z) (log q(z) - log p(z)) dz``, integrated by SymPy.

    Keys: ``mu``, ``sigma``, ``kl`` (the integral), ``closed_form``
    ``= (mu^2 + sigma^2 - 1 - log sigma^2) / 2``, ``difference`` (zero), ``kl_fn(mu, sigma)``.
    """
    z, mu = sp.symbols("z mu", real=True)
    sigma = sp.symbols("sigma", positive=True)
    kl = _expectation(_normal_logpdf(z, mu, sigma) - _normal_logpdf(z, 0, 1), z, mu, sigma)
    closed_form = (mu**2 + sigma**2 - 1 - sp.log(sigma**2)) / 2
    return {
        "mu": mu, "sigma": sigma, "kl": kl, "closed_form": closed_form,
        "difference": sp.simplify(sp.expand_log(kl - closed_form)),
        "kl_fn": sp.lambdify((mu, sigma), kl, "math"),
    }


def linear_gaussian_elbo():
    """The ELBO of a one-dimensional linear-Gaussian model, where every term has a closed form.

    Model: ``p(z) = N(0, 1)``, ``p(x|z) = N(a z + c, s^2)``; encoder ``q(z|x) = N(mu, sigma^2)``.
    Keys: the symbols ``x, a, c, s, mu, sigma``; ``expected_log_likelihood`` ``= E_q[log p(x|z)]``
    (integrated), ``expected_log_likelihood_closed_form`` and their ``difference`` (zero), ``kl``,
    ``elbo = expected_log_likelihood - kl``, ``log_evidence = log N(x; c, a^2 + s^2)``,
    ``posterior_mean`` and ``posterior_std`` of ``p(z|x)``, and the numeric
    ``elbo_fn(x, a, c, s, mu, sigma)`` and ``log_evidence_fn(x, a, c, s)``.
    """
    z, x, a, c, mu = sp.symbols("z x a c mu", real=True)
    s, sigma = sp.symbols("s sigma", positive=True)
    expected_log_likelihood = _expectation(_normal_logpdf(x, a * z + c, s), z, mu, sigma)
    # E_q[(x - a z - c)^2] = (x - a mu - c)^2 + a^2 sigma^2: squared error of the mean plus variance
    closed_form = -sp.log(2 * sp.pi * s**2) / 2 - ((x - a * mu - c) ** 2 + a**2 * sigma**2) / (2 * s**2)
    kl = gaussian_kl()["kl"]
    elbo = expected_log_likelihood - kl
    log_evidence = _normal_logpdf(x, c, sp.sqrt(a**2 + s**2))
    precision = 1 + a**2 / s**2
    posterior_mean = (a * (x - c) / s**2) / precision
    posterior_std = 1 / sp.sqrt(precision)
    return {
        "x": x, "a": a, "c": c, "s": s, "mu": mu, "sigma": sigma,
        "expected_log_likelihood": expected_log_likelihood,
        "expected_log_likelihood_closed_form": closed_form,
        "difference": sp.simplify(sp.expand_log(expected_log_likelihood - closed_form, force=True)),
        "kl": kl, "elbo": elbo,
        "log_evidence": log_evidence, "posterior_mean": posterior_mean, "posterior_std": posterior_std,
        "elbo_fn": sp.lambdify((x, a, c, s, mu, sigma), elbo, "math"),
        "log_evidence_fn": sp.lambdify((x, a, c, s), log_evidence, "math"),
    }


def elbo_monte_carlo(x, a, c, s, mu, sigma, n_samples=100_000, seed=0):
    """Monte Carlo ELBO of the linear-Gaussian model: the mean over ``z = mu + sigma * eps`` of
    ``log p(x|z) + log p(z) - log q(z|x)``. Returns ``(estimate, standard_error)`` as floats."""
    for name, v in (("x", x), ("a", a), ("c", c), ("s", s), ("mu", mu), ("sigma", sigma)):
        if isinstance(v, bool) or not isinstance(v, Real):
            raise TypeError(f"{name}: expected a real number, got {type(v).__name__}")
        if not math.isfinite(v):
            raise ValueError(f"{name}: expected a finite number, got {v}")
    if s <= 0 or sigma <= 0:
        raise ValueError(f"s and sigma: expected standard deviations > 0, got s={s}, sigma={sigma}")
    validate.positive_int(n_samples, "n_samples", minimum=2)
    g = generator(seed)
    eps = torch.randn(n_samples, generator=g, dtype=torch.float64)
    z = mu + sigma * eps  # reparameterisation: the randomness is in eps, not in mu or sigma

    def log_normal(v, mean, std):
        return -0.5 * math.log(2 * math.pi * std**2) - (v - mean) ** 2 / (2 * std**2)

    terms = log_normal(x, a * z + c, s) + log_normal(z, 0.0, 1.0) - log_normal(z, mu, sigma)
    return float(terms.mean()), float(terms.std() / math.sqrt(n_samples))
