"""SymPy derivations that the chapters display and the tests check against numerics.

One module per topic (``attention``, ``layernorm``, ``losses``, ``vae``); the loss and VAE derivations are
also importable from here.
"""

from llmxai.derive.losses import (
    linear_regression_step_symbolic,
    mse_grad,
    sigmoid_derivative,
    softmax_cross_entropy_grad,
)
from llmxai.derive.vae import elbo_monte_carlo, gaussian_kl, linear_gaussian_elbo

__all__ = [
    "elbo_monte_carlo", "gaussian_kl", "linear_gaussian_elbo", "linear_regression_step_symbolic",
    "mse_grad", "sigmoid_derivative", "softmax_cross_entropy_grad",
]
