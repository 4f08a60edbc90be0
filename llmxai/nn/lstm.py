"""Long short-term memory, from tensor operations, with torch's parameter names.

For each time step (Hochreiter & Schmidhuber 1997, Neural Computation 9(8),
doi:10.1162/neco.1997.9.8.1735; forget gate from Gers, Schmidhuber & Cummins 2000,
Neural Computation 12(10), doi:10.1162/089976600300015015)::

    i_t = sigmoid(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)     input gate
    f_t = sigmoid(W_if x_t + b_if + W_hf h_{t-1} + b_hf)     forget gate
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)        candidate cell
    o_t = sigmoid(W_io x_t + b_io + W_ho h_{t-1} + b_ho)     output gate
    c_t = f_t * c_{t-1} + i_t * g_t
    h_t = o_t * tanh(c_t)

The four gates are stacked in one matrix ``weight_ih (4H, in)`` in the order i, f, g, o,
exactly as :class:`torch.nn.LSTM` stores them, so weights copy over unchanged. The input
part of every step is one matmul over the whole sequence; each step then needs one
fused matmul for the recurrent part.
"""

import torch
from torch import nn

from llmxai import validate
from llmxai.hooks import HookPoint
from llmxai.nn.rnn import init_uniform, time_major


def lstm_step(gx, h, c, w_hh_t):
    """One step given the precomputed input part ``gx (B, 4H)``; returns ``h, c`` and the gates ``(i, f, g, o)``."""
    z = torch.addmm(gx, h, w_hh_t)  # (B, 4H): W_ih x_t + b + W_hh h_{t-1}
    H = h.shape[-1]
    s = torch.sigmoid(z)  # (B, 4H): only the i, f, o blocks are used
    g = torch.tanh(z[:, 2 * H:3 * H])  # (B, H)
    i, f, o = s[:, :H], s[:, H:2 * H], s[:, 3 * H:]
    c = torch.addcmul(f * c, i, g)  # (B, H)
    h = o * torch.tanh(c)  # (B, H)
    return h, c, (i, f, g, o)


def _recurrence(gx, w_hh, h, c, keep=None, reverse=False):
    """The time loop under autograd, step by step; returns ``hs, cs (T, B, H)`` and gates ``(T, B, 4H)``.

    ``keep (T, B, 1)`` bool marks real steps; on padded steps the state is carried over
    and the output is zero. ``hs`` are the outputs, ``cs`` the carried cell states.
    """
    T = gx.shape[0]
    hs, cs, acts = [None] * T, [None] * T, [None] * T
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        h_new, c_new, gates = lstm_step(gx[t], h, c, w_hh.t())
        acts[t] = torch.cat(gates, dim=-1)  # (B, 4H)
        if keep is None:
            h, c, hs[t] = h_new, c_new, h_new
        else:
            h, c = torch.where(keep[t], h_new, h), torch.where(keep[t], c_new, c)
            hs[t] = h_new * keep[t]
        cs[t] = c
    return torch.stack(hs), torch.stack(cs), torch.stack(acts)


class _Recurrence(torch.autograd.Function):
    """Same as :func:`_recurrence`, with backpropagation through time written by hand.

    Autograd would record about ten small operations per step; here the backward pass
    runs its own loop (one matmul per step) and the weight gradient is a single matmul
    over all steps, ``dW_hh = sum_t dz_t^T h_{t-1}`` (Werbos 1990,
    doi:10.1109/5.58337). Supports first derivatives only.
    """

    @staticmethod
    def forward(ctx, gx, w_hh, h0, c0, keep=None, reverse=False):
        T, B, H4 = gx.shape
        H = H4 // 4
        w_hh_t = w_hh.t()  # (H, 4H)
        hs, cs, cn, tanh_cn = (gx.new_empty(T, B, H) for _ in range(4))
        h_prev, c_prev, acts = gx.new_empty(T, B, H), gx.new_empty(T, B, H), gx.new_empty(T, B, H4)
        h, c = h0, c0
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
            h_prev[t], c_prev[t] = h, c
            a = acts[t]  # (B, 4H)
            z = torch.addmm(gx[t], h, w_hh_t)  # (B, 4H)
            torch.sigmoid(z, out=a)
            torch.tanh(z[:, 2 * H:3 * H], out=a[:, 2 * H:3 * H])
            torch.addcmul(a[:, H:2 * H] * c, a[:, :H], a[:, 2 * H:3 * H], out=cn[t])
            h_new = a[:, 3 * H:] * torch.tanh(cn[t], out=tanh_cn[t])  # (B, H)
            if keep is None:
                h, c, hs[t] = h_new, cn[t], h_new
            else:
                h, c = torch.where(keep[t], h_new, h), torch.where(keep[t], cn[t], c)
                hs[t] = h_new * keep[t]
            cs[t] = c
        ctx.reverse = reverse
        ctx.set_materialize_grads(False)  # unused outputs (the gates, usually) give None: skip their terms
        ctx.save_for_backward(w_hh, h_prev, c_prev, tanh_cn, acts, keep)
        return hs, cs, acts

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, d_hs, d_cs, d_acts):
        w_hh, h_prev, c_prev, tanh_cn, acts, keep = ctx.saved_tensors
        T, B, H4 = acts.shape
        H = H4 // 4
        if d_hs is None and d_cs is None and d_acts is None:
            return None, None, None, None, None, None
        dz = torch.empty_like(acts)  # (T, B, 4H): gradient of the pre-activations
        slope = acts * (1 - acts)  # (T, B, 4H): sigmoid' = s (1 - s) for i, f, o ...
        slope[..., 2 * H:3 * H] = 1 - acts[..., 2 * H:3 * H] ** 2  # ... and tanh' = 1 - g^2 for g
        dh, dc = acts.new_zeros(B, H), acts.new_zeros(B, H)  # gradients of the carried state
        for t in (range(T) if ctx.reverse else range(T - 1, -1, -1)):
            i, f, g, o = acts[t].split(H, dim=1)
            if d_cs is not None:
                dc = dc + d_cs[t]
            dh_new = dh if d_hs is None else dh + d_hs[t]
            if keep is not None:
                m = keep[t].to(acts.dtype)  # (B, 1): padded steps pass the gradient through
                dh_new, dc_new, dh, dc = dh_new * m, dc * m, dh * (1 - m), dc * (1 - m)
            else:
                dc_new, dh, dc = dc, 0, 0
            tc = tanh_cn[t]  # (B, H)
            dc_new = dc_new + dh_new * o * (1 - tc * tc)
            d_gates = [dc_new * g, dc_new * c_prev[t], dc_new * i, dh_new * tc]  # d i, d f, d g, d o
            if d_acts is not None:
                d_gates = [dg + da for dg, da in zip(d_gates, d_acts[t].split(H, dim=1))]
            d = torch.mul(torch.cat(d_gates, dim=1), slope[t], out=dz[t])  # (B, 4H)
            dh = dh + d @ w_hh  # (B, H)
            dc = dc + dc_new * f
        dw_hh = dz.reshape(T * B, H4).t() @ h_prev.reshape(T * B, H)  # (4H, H)
        return dz, dw_hh, dh, dc, None, None


class LSTMCell(nn.Module):
    """One LSTM step like :class:`torch.nn.LSTMCell`: ``forward(x (B, in), (h, c)) -> (h, c)``."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size = validate.positive_int(input_size, "input_size")
        self.hidden_size = H = validate.positive_int(hidden_size, "hidden_size")
        self.weight_ih = init_uniform((4 * H, input_size), H)  # (4H, in)
        self.weight_hh = init_uniform((4 * H, H), H)  # (4H, H)
        self.bias_ih = init_uniform((4 * H,), H)
        self.bias_hh = init_uniform((4 * H,), H)

    def forward(self, x, hx=None):
        validate.tensor(x, "x", ndim=2, floating=True)
        validate.same_size(self.input_size, x.shape[1], "x: input size")
        validate.same_dtype(x, self.weight_ih, "x")
        B, H = x.shape[0], self.hidden_size
        if hx is None:
            h = c = x.new_zeros(B, H)
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"hx: expected a pair (h, c), got {type(hx).__name__}")
            h, c = hx
            for name, t in (("h", h), ("c", c)):
                validate.tensor(t, name, ndim=2, floating=True)
                validate.same_dtype(t, self.weight_ih, name)
                if tuple(t.shape) != (B, H):
                    raise ValueError(f"{name}: expected shape {(B, H)}, got {tuple(t.shape)}")
        gx = torch.addmm(self.bias_ih + self.bias_hh, x, self.weight_ih.t())  # (B, 4H)
        h, c, _ = lstm_step(gx, h, c, self.weight_hh.t())
        return h, c

    @classmethod
    def from_torch(cls, module):
        """Copy an :class:`torch.nn.LSTMCell`."""
        if not isinstance(module, nn.LSTMCell):
            raise TypeError(f"module: expected torch.nn.LSTMCell, got {type(module).__name__}")
        if module.bias_ih is None:
            raise ValueError("module: expected an LSTMCell with bias=True")
        ours = cls(module.input_size, module.hidden_size).to(module.weight_ih.device, module.weight_ih.dtype)
        ours.load_state_dict(module.state_dict())
        return ours


class LSTM(nn.Module):
    """Multi-layer, optionally bidirectional LSTM with :class:`torch.nn.LSTM`'s interface.

    ``forward(x, hx=None, lengths=None) -> (output, (h_n, c_n))``: ``x`` is ``(T, B, in)``,
    or ``(B, T, in)`` with ``batch_first``; ``output`` has ``n_dir * H`` features;
    ``h_n, c_n`` are ``(num_layers * n_dir, B, H)``. ``lengths (B,)`` plays the part of a
    packed sequence: steps past a sequence's length leave its state unchanged (so the
    backward direction starts at the last real token), and padded outputs are zero.

    Hook points per layer ``k`` and direction (suffix ``_reverse``), all ``(B, T, H)``:
    ``hook_h_l{k}`` is the layer's output sequence and may be patched (the next layer and
    ``h_n`` read the patched value); ``hook_c_l{k}``, ``hook_i_l{k}``, ``hook_f_l{k}``,
    ``hook_g_l{k}``, ``hook_o_l{k}`` are recorded after the time loop, for reading.

    ``fused=True`` runs the time loop with a hand-written backward pass (fast, first
    derivatives only); ``fused=False`` runs :func:`lstm_step` under autograd.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, batch_first=False, bidirectional=False, fused=True):
        super().__init__()
        self.fused = validate.flag(fused, "fused")
        self.input_size = validate.positive_int(input_size, "input_size")
        self.hidden_size = H = validate.positive_int(hidden_size, "hidden_size")
        self.num_layers = validate.positive_int(num_layers, "num_layers")
        self.batch_first = validate.flag(batch_first, "batch_first")
        self.bidirectional = validate.flag(bidirectional, "bidirectional")
        self.n_dir = 2 if bidirectional else 1
        for k in range(num_layers):
            d_in = input_size if k == 0 else H * self.n_dir
            for sfx in self._suffixes(k):
                setattr(self, f"weight_ih{sfx}", init_uniform((4 * H, d_in), H))  # (4H, in)
                setattr(self, f"weight_hh{sfx}", init_uniform((4 * H, H), H))  # (4H, H)
                setattr(self, f"bias_ih{sfx}", init_uniform((4 * H,), H))
                setattr(self, f"bias_hh{sfx}", init_uniform((4 * H,), H))
        for k in range(num_layers):
            for sfx in self._suffixes(k):
                for what in "hcifgo":
                    setattr(self, f"hook_{what}{sfx}", HookPoint())

    def _suffixes(self, k):
        return [f"_l{k}", f"_l{k}_reverse"][: self.n_dir]

    def forward(self, x, hx=None, lengths=None):
        xs = time_major(self, x)  # (T, B, in)
        T, B = xs.shape[:2]
        H, L = self.hidden_size, self.num_layers * self.n_dir
        if hx is None:
            h0 = c0 = xs.new_zeros(L, B, H)
        else:
            h0, c0 = self._check_state(hx, L, B, xs.dtype)
        keep = None
        if lengths is not None:
            validate.lengths(lengths, B, T)
            steps = torch.arange(T, device=xs.device)
            keep = (steps[:, None] < lengths.to(xs.device)[None, :])[..., None]  # (T, B, 1)
        h_n, c_n, layer_in = [], [], xs
        for k in range(self.num_layers):
            outs = []
            for d, sfx in enumerate(self._suffixes(k)):
                j = k * self.n_dir + d
                seq, h_last, c_last = self._direction(layer_in, sfx, h0[j], c0[j], keep, d == 1, lengths)
                outs.append(seq)
                h_n.append(h_last)
                c_n.append(c_last)
            layer_in = torch.cat(outs, dim=-1) if self.n_dir == 2 else outs[0]  # (T, B, n_dir*H)
        out = layer_in.transpose(0, 1) if self.batch_first else layer_in
        return out, (torch.stack(h_n), torch.stack(c_n))  # (.., n_dir*H), (L, B, H) twice

    def _direction(self, xs, sfx, h0, c0, keep, reverse, lengths):
        """Run one direction of one layer over ``xs (T, B, in)``; return ``(seq (T, B, H), h_n, c_n)``."""
        w_ih, w_hh = getattr(self, f"weight_ih{sfx}"), getattr(self, f"weight_hh{sfx}")
        b = getattr(self, f"bias_ih{sfx}") + getattr(self, f"bias_hh{sfx}")  # (4H,)
        gx = torch.matmul(xs, w_ih.t()) + b  # (T, B, 4H): the input part of every step at once
        loop = _Recurrence.apply if self.fused else _recurrence
        hs, cs, acts = loop(gx, w_hh, h0, c0, keep, reverse)  # (T, B, H), (T, B, H), (T, B, 4H)
        H = self.hidden_size
        seq = getattr(self, f"hook_h{sfx}")(hs.transpose(0, 1))  # (B, T, H)
        getattr(self, f"hook_c{sfx}")(cs.transpose(0, 1))  # (B, T, H)
        for n, what in enumerate("ifgo"):
            getattr(self, f"hook_{what}{sfx}")(acts[..., n * H:(n + 1) * H].transpose(0, 1))  # (B, T, H)
        if reverse:
            h_last, c_last = seq[:, 0], cs[0]
        elif lengths is None:
            h_last, c_last = seq[:, -1], cs[-1]
        else:
            h_last = seq[torch.arange(seq.shape[0], device=seq.device), lengths.to(seq.device) - 1]  # (B, H)
            c_last = cs[-1]  # padded steps carried the state forward unchanged
        return seq.transpose(0, 1), h_last, c_last

    def _check_state(self, hx, L, B, dtype):
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"hx: expected a pair (h_0, c_0), got {type(hx).__name__}")
        for name, t in zip(("h_0", "c_0"), hx):
            validate.tensor(t, name, ndim=3, floating=True)
            validate.same_dtype(t, self.weight_ih_l0, name)
            if tuple(t.shape) != (L, B, self.hidden_size):
                raise ValueError(
                    f"{name}: expected shape (num_layers * num_directions, B, H) = {(L, B, self.hidden_size)}, "
                    f"got {tuple(t.shape)}"
                )
        return hx

    @classmethod
    def from_torch(cls, module):
        """Copy an :class:`torch.nn.LSTM` (tanh, with biases, no projection, no dropout)."""
        if not isinstance(module, nn.LSTM):
            raise TypeError(f"module: expected torch.nn.LSTM, got {type(module).__name__}")
        if not module.bias or module.proj_size or module.dropout:
            raise ValueError("module: expected an nn.LSTM with bias=True, proj_size=0 and dropout=0")
        ours = cls(module.input_size, module.hidden_size, module.num_layers, bool(module.batch_first),
                   bool(module.bidirectional))
        ours = ours.to(module.weight_ih_l0.device, module.weight_ih_l0.dtype)
        ours.load_state_dict(module.state_dict())
        return ours

    def extra_repr(self):
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"batch_first={self.batch_first}, bidirectional={self.bidirectional}")

