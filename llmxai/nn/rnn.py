"""The plain (Elman) recurrent network with a tanh nonlinearity.

``h_t = tanh(W_x x_t + W_h h_{t-1} + b)`` (Elman 1990, Cognitive Science 14(2),
doi:10.1207/s15516709cog1402_1), with the bias split in two (``b = b_ih + b_hh``) and the
parameter names of :class:`torch.nn.RNN`, so weights copy over unchanged.
"""

import math

import torch
from torch import nn

from llmxai import validate
from llmxai.hooks import HookPoint


def init_uniform(shape, H):
    """A parameter drawn from U(-1/sqrt(H), 1/sqrt(H)), torch's initialisation for recurrent layers."""
    bound = 1.0 / math.sqrt(H)
    return nn.Parameter(torch.empty(shape).uniform_(-bound, bound))


def time_major(layer, x):
    """Check a recurrent layer's input ``x`` (3-D, its input size and dtype, T, B >= 1); return it as ``(T, B, in)``."""
    validate.tensor(x, "x", ndim=3, floating=True)
    validate.same_size(layer.input_size, x.shape[2], "x: input size (last dimension)")
    validate.same_dtype(x, layer.weight_ih_l0, "x")
    xs = x.transpose(0, 1) if layer.batch_first else x  # (T, B, in)
    if xs.shape[0] == 0 or xs.shape[1] == 0:
        raise ValueError(f"x: expected at least one time step and one sequence, got shape {tuple(x.shape)}")
    return xs


def rnn_step(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
    """One step ``tanh(x W_x^T + b_ih + h W_h^T + b_hh)`` for ``x (B, in)``, ``h (B, H)``."""
    return torch.tanh(x @ weight_ih.t() + bias_ih + h @ weight_hh.t() + bias_hh)  # (B, H)


class RNNCell(nn.Module):
    """One tanh RNN step like :class:`torch.nn.RNNCell`: ``forward(x (B, in), h (B, H)) -> h``."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size = validate.positive_int(input_size, "input_size")
        self.hidden_size = H = validate.positive_int(hidden_size, "hidden_size")
        self.weight_ih = init_uniform((H, input_size), H)  # (H, in): W_x
        self.weight_hh = init_uniform((H, H), H)  # (H, H): W_h
        self.bias_ih = init_uniform((H,), H)
        self.bias_hh = init_uniform((H,), H)

    def forward(self, x, h=None):
        validate.tensor(x, "x", ndim=2, floating=True)
        validate.same_size(self.input_size, x.shape[1], "x: input size")
        validate.same_dtype(x, self.weight_ih, "x")
        if h is None:
            h = x.new_zeros(x.shape[0], self.hidden_size)
        validate.tensor(h, "h", ndim=2, floating=True)
        validate.same_dtype(h, self.weight_ih, "h")
        if tuple(h.shape) != (x.shape[0], self.hidden_size):
            raise ValueError(f"h: expected shape {(x.shape[0], self.hidden_size)}, got {tuple(h.shape)}")
        return rnn_step(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)

    @classmethod
    def from_torch(cls, module):
        """Copy a tanh :class:`torch.nn.RNNCell` with biases."""
        if not isinstance(module, nn.RNNCell) or module.nonlinearity != "tanh" or module.bias_ih is None:
            raise TypeError(f"module: expected torch.nn.RNNCell(nonlinearity='tanh', bias=True), got {module!r}")
        ours = cls(module.input_size, module.hidden_size).to(module.weight_ih.device, module.weight_ih.dtype)
        ours.load_state_dict(module.state_dict())
        return ours


class RNN(nn.Module):
    """One-layer tanh RNN over time like :class:`torch.nn.RNN`: ``forward(x, h_0=None) -> (output, h_n)``.

    ``x`` is ``(T, B, in)``, or ``(B, T, in)`` with ``batch_first``; ``h_0, h_n`` are
    ``(1, B, H)``. The hidden states pass through ``hook_h_l0`` as ``(B, T, H)`` (patchable:
    the output and ``h_n`` read the patched value).
    """

    def __init__(self, input_size, hidden_size, batch_first=False):
        super().__init__()
        self.input_size = validate.positive_int(input_size, "input_size")
        self.hidden_size = H = validate.positive_int(hidden_size, "hidden_size")
        self.batch_first = validate.flag(batch_first, "batch_first")
        self.weight_ih_l0 = init_uniform((H, input_size), H)  # (H, in)
        self.weight_hh_l0 = init_uniform((H, H), H)  # (H, H)
        self.bias_ih_l0 = init_uniform((H,), H)
        self.bias_hh_l0 = init_uniform((H,), H)
        self.hook_h_l0 = HookPoint()

    def forward(self, x, h_0=None):
        xs = time_major(self, x)  # (T, B, in)
        T, B = xs.shape[:2]
        if h_0 is None:
            h = xs.new_zeros(B, self.hidden_size)
        else:
            validate.tensor(h_0, "h_0", ndim=3, floating=True)
            validate.same_dtype(h_0, self.weight_ih_l0, "h_0")
            if tuple(h_0.shape) != (1, B, self.hidden_size):
                raise ValueError(f"h_0: expected shape {(1, B, self.hidden_size)}, got {tuple(h_0.shape)}")
            h = h_0[0]
        gx = torch.matmul(xs, self.weight_ih_l0.t()) + self.bias_ih_l0 + self.bias_hh_l0  # (T, B, H)
        hs = []
        for t in range(T):
            h = torch.tanh(torch.addmm(gx[t], h, self.weight_hh_l0.t()))  # (B, H)
            hs.append(h)
        seq = self.hook_h_l0(torch.stack(hs, dim=1))  # (B, T, H)
        out = seq if self.batch_first else seq.transpose(0, 1)
        return out, seq[:, -1][None]  # (.., H), (1, B, H)

    @classmethod
    def from_torch(cls, module):
        """Copy a one-layer, unidirectional tanh :class:`torch.nn.RNN` with biases."""
        if not isinstance(module, nn.RNN):
            raise TypeError(f"module: expected torch.nn.RNN, got {type(module).__name__}")
        if module.num_layers != 1 or module.bidirectional or module.nonlinearity != "tanh" or not module.bias:
            raise ValueError("module: expected nn.RNN with num_layers=1, bidirectional=False, tanh, bias=True")
        ours = cls(module.input_size, module.hidden_size, bool(module.batch_first))
        ours = ours.to(module.weight_ih_l0.device, module.weight_ih_l0.dtype)
        ours.load_state_dict(module.state_dict())
        return ours
