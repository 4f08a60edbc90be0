"""Layer kinds that the fast and the literal LRP passes treat alike."""

from torch import nn

from llmxai.hooks import HookPoint

WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d)
ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.ELU, nn.SiLU, nn.Softplus, nn.Hardtanh)
MAX_POOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)
AVG_POOLS = (nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)
SHAPE_ONLY = (nn.Flatten, nn.Unflatten, nn.Dropout, nn.Identity, HookPoint)
