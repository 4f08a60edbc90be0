"""Optimisation from scratch: losses, gradient descent, SGD with momentum, Adam, a scalar
autograd engine and backpropagation by hand."""

from llmxai.optim.adam import Adam, AdamW
from llmxai.optim.backprop import (
    Neuron,
    TwoLayerSigmoidNet,
    finite_difference_grad,
    sigmoid,
    sigmoid_neuron,
)
from llmxai.optim.engine import Value, graph
from llmxai.optim.gd import LinearStep, gradient_descent, linear_regression_step
from llmxai.optim.losses import cross_entropy, log_softmax, mse, softmax
from llmxai.optim.optimizer import Optimizer
from llmxai.optim.sgd import SGD

__all__ = [
    "Adam", "AdamW", "LinearStep", "Neuron", "Optimizer", "SGD", "TwoLayerSigmoidNet", "Value",
    "cross_entropy", "finite_difference_grad", "gradient_descent", "graph", "linear_regression_step",
    "log_softmax", "mse", "sigmoid", "sigmoid_neuron", "softmax",
]
