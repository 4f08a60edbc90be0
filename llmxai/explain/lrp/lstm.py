"""LRP through an LSTM (Arras et al. 2017, "Explaining Recurrent Neural Network Predictions in
Sentiment Analysis", WASSA, DOI 10.18653/v1/W17-5221).

Gates are treated as constants: in h_t = o_t * tanh(c_t) and in i_t * g_t all
relevance goes to the signal (c_t, g_t), none to the gate ("signal-take-all").
The cell update c_t = f_t * c_{t-1} + i_t * g_t and the affine map into g_t share
relevance by the epsilon rule. Works on any module with torch's LSTM parameter names
(nn.LSTM, llmxai's LSTM): stacked, optionally bidirectional, zero initial state.
"""

import torch
import torch.nn.functional as F

from llmxai import validate
from llmxai.explain._inputs import usable
from llmxai.explain.lrp._autograd import Tap
from llmxai.explain.lrp.literal import linear_relevance
from llmxai.explain.lrp.rules import Epsilon, safe_divide, stabilize, stable_ratio


def is_lstm(m):
    return hasattr(m, "weight_ih_l0") and hasattr(m, "weight_hh_l0")


def _layers(lstm):
    """For each layer, [(W_ih, W_hh, b, reverse)] for each direction, weights detached."""
    if getattr(lstm, "proj_size", 0):
        raise ValueError(f"LSTM LRP: expected an LSTM without projection, got proj_size={lstm.proj_size}")
    layers = []
    for k in range(getattr(lstm, "num_layers", 1)):
        dirs = []
        for suffix, reverse in ((f"_l{k}", False), (f"_l{k}_reverse", True)):
            if not hasattr(lstm, "weight_ih" + suffix):
                continue
            W_ih, W_hh = getattr(lstm, "weight_ih" + suffix).detach(), getattr(lstm, "weight_hh" + suffix).detach()
            b = torch.zeros(W_ih.shape[0], dtype=W_ih.dtype, device=W_ih.device)
            for name in ("bias_ih", "bias_hh"):
                if getattr(lstm, name + suffix, None) is not None:
                    b = b + getattr(lstm, name + suffix).detach()
            dirs.append((W_ih, W_hh, b, reverse))
        layers.append(dirs)
    return layers


def _check(lstm, x, R_out, epsilon=0.0, lengths=None):
    if not is_lstm(lstm):
        raise TypeError(f"lstm: expected an LSTM with torch's parameter names (weight_ih_l0, ...), "
                        f"got {type(lstm).__name__}")
    validate.tensor(x, "x", ndim=3, floating=True)
    validate.number(epsilon, "epsilon", minimum=0)
    layers = _layers(lstm)
    validate.same_dtype(x, layers[0][0][0], "x")
    H = layers[0][0][1].shape[1]
    validate.same_size(layers[0][0][0].shape[1], x.shape[2], "x: input features of the LSTM")
    if R_out is not None:
        validate.tensor(R_out, "R_out", ndim=3, floating=True)
        validate.same_dtype(R_out, x, "R_out")
        validate.same_size((x.shape[0], x.shape[1], H * len(layers[-1])), tuple(R_out.shape),
                           "R_out: shape (B, T, directions * H)")
    keep = None
    if lengths is not None:
        validate.lengths(lengths, x.shape[0], x.shape[1])
        steps = torch.arange(x.shape[1], device=x.device)
        keep = steps[None, :, None] < lengths.to(x.device)[:, None, None]  # (B, T, 1)
    return layers, H, keep


def _steps(T, reverse):
    return range(T - 1, -1, -1) if reverse else range(T)


def lstm_lrp_literal(lstm, x, R_out, epsilon=1e-6, lengths=None):
    """Relevance of x (B, T, in) from relevance R_out (B, T, D*H) on the output sequence, step by step.

    Per step t, backwards in time: R_c += R_h (signal-take-all); c = f c_prev + i g by
    the epsilon rule; R_g passes through tanh; [x_t; h_prev] -> g by the epsilon rule.
    With ``lengths`` (B,), steps past a sequence's end carry the state unchanged (as
    llmxai's LSTM does), so they pass relevance through and take none. Stacked layers
    hand the relevance of their input sequence down to the layer below.
    """
    layers, H, keep = _check(lstm, x, R_out, epsilon, lengths)
    inputs = [x]
    with torch.no_grad():
        for dirs in layers[:-1]:
            inputs.append(_fast_layer(dirs, inputs[-1], 0.0, keep))
    R = R_out
    for dirs, x_k in reversed(list(zip(layers, inputs))):
        R = _literal_layer(dirs, x_k, R, epsilon, keep)
    return R


def _literal_layer(dirs, x, R_out, epsilon, keep):
    rule = Epsilon(epsilon)
    B, T, n_in = x.shape
    H = dirs[0][1].shape[1]
    R_x = torch.zeros_like(x)
    for k, (W_ih, W_hh, b, reverse) in enumerate(dirs):
        h, c, saved = x.new_zeros(B, H), x.new_zeros(B, H), []
        for t in _steps(T, reverse):
            i, f, g, o = (F.linear(x[:, t], W_ih) + F.linear(h, W_hh) + b).chunk(4, -1)  # (B, H) each
            i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
            c_new = f * c + i * g
            real = torch.ones_like(h, dtype=torch.bool) if keep is None else keep[:, t].expand_as(h)  # (B, H)
            saved.append((t, h, c, i, f, g, c_new, real))
            h, c = torch.where(real, o * torch.tanh(c_new), h), torch.where(real, c_new, c)
        R_h, R_c = x.new_zeros(B, H), x.new_zeros(B, H)
        W_g = torch.cat([W_ih, W_hh], 1)[2 * H:3 * H]  # (H, in + H): rows of the g gate
        for t, h_prev, c_prev, i, f, g, c_new, real in reversed(saved):
            R_cell = R_c + R_h + R_out[:, t, k * H:(k + 1) * H]
            share = safe_divide(R_cell, stabilize(c_new, epsilon))
            R_xh = linear_relevance(torch.cat([x[:, t], h_prev], 1), W_g, b[2 * H:3 * H], i * g * share, rule)
            R_x[:, t] += torch.where(real[:, :1], R_xh[:, :n_in], 0.0)
            R_h = torch.where(real, R_xh[:, n_in:], R_h)
            R_c = torch.where(real, f * c_prev * share, R_c)
    return R_x


class _Recurrence(torch.autograd.Function):
    """One direction of an LSTM layer whose backward pass is the LRP pass of :func:`lstm_lrp_literal`.

    ``forward(gx (T, B, 4H), w_hh (4H, H), keep (T, B, 1) or None, reverse, epsilon) -> hs (T, B, H)``,
    with ``gx = x W_ih^T + b`` the input part of every step. The backward pass carries R = a * g
    (the gradient form) through time by hand: gates are constants (signal-take-all), h = o tanh(c)
    and g = tanh(z) pass relevance unchanged (g_in = g_out * out / in), and the cell update and the
    map into z rescale the gradient by the epsilon rule's z / stab(z). Only the g-gate rows of
    ``gx`` receive a gradient. One small matmul per step, no autograd graph: written by hand for
    speed, it computes what the step-by-step autograd version did (the tests compare it with the
    literal rules).
    """

    @staticmethod
    def forward(ctx, gx, w_hh, keep, reverse, epsilon):
        T, B, H4 = gx.shape
        H = H4 // 4
        w_hh_t = w_hh.t()  # (H, 4H)
        hs, cn, hn, acts = gx.new_empty(T, B, H), gx.new_empty(T, B, H), gx.new_empty(T, B, H), gx.new_empty(T, B, H4)
        zg = gx.new_empty(T, B, H)  # the g gate's pre-activation z
        h, c = gx.new_zeros(B, H), gx.new_zeros(B, H)
        for t in _steps(T, reverse):
            z = torch.addmm(gx[t], h, w_hh_t)  # (B, 4H)
            zg[t] = z[:, 2 * H:3 * H]
            a = acts[t]
            torch.sigmoid(z, out=a)
            torch.tanh(zg[t], out=a[:, 2 * H:3 * H])
            torch.addcmul(a[:, H:2 * H] * c, a[:, :H], a[:, 2 * H:3 * H], out=cn[t])
            torch.mul(a[:, 3 * H:], torch.tanh(cn[t]), out=hn[t])
            if keep is None:
                h, c, hs[t] = hn[t], cn[t], hn[t]
            else:
                h, c = torch.where(keep[t], hn[t], h), torch.where(keep[t], cn[t], c)
                hs[t] = hn[t] * keep[t]
        ctx.reverse, ctx.epsilon = reverse, epsilon
        ctx.save_for_backward(w_hh, acts, zg, cn, hn, keep)
        ctx.mark_non_differentiable(c)
        ctx.set_materialize_grads(False)
        return hs, c  # the output sequence, and the final cell state (a constant for LRP)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, d_hs, _d_c):
        w_hh, acts, zg, cn, hn, keep = ctx.saved_tensors
        T, B, H4 = acts.shape
        H = H4 // 4
        d_gx = acts.new_zeros(T, B, H4)
        if d_hs is None:
            return d_gx, None, None, None, None
        w_g = w_hh[2 * H:3 * H]  # (H, H): only z = pre-activation of g carries relevance back
        eps_c = stable_ratio(cn, ctx.epsilon)  # (T, B, H): the cell update c = f c_prev + i g by the epsilon rule
        to_cell = safe_divide(hn, cn) * eps_c  # h = o tanh(c) passes relevance unchanged to c
        to_z = acts[..., :H] * safe_divide(acts[..., 2 * H:3 * H], zg) * stable_ratio(zg, ctx.epsilon)  # i, tanh, eps
        dh, dc = acts.new_zeros(B, H), acts.new_zeros(B, H)  # gradients of the carried state
        for t in (range(T) if ctx.reverse else range(T - 1, -1, -1)):
            f = acts[t, :, H:2 * H]
            dh_new, dc_new = dh + d_hs[t], dc
            if keep is not None:
                m = keep[t].to(acts.dtype)  # (B, 1): padded steps pass the carried state through
                dh_new, dc_new, dh, dc = dh_new * m, dc_new * m, dh * (1 - m), dc * (1 - m)
            else:
                dh, dc = 0, 0
            d_cell = dc_new * eps_c[t] + dh_new * to_cell[t]  # at c before the epsilon rule
            dz = d_cell * to_z[t]  # (B, H)
            d_gx[t, :, 2 * H:3 * H] = dz
            dc = dc + f * d_cell
            dh = dh + dz @ w_g
        return d_gx, None, None, None, None


def _fast_layer(dirs, x, epsilon, keep, c_n=None):
    """One layer's output (B, T, D*H) whose backward pass is LSTM LRP (see :class:`_Recurrence`).

    Each direction's final cell state is appended to the list ``c_n`` if one is given.
    """
    xs = x.transpose(0, 1)  # (T, B, in)
    keep = None if keep is None else keep.transpose(0, 1)  # (T, B, 1)
    outputs = []
    for W_ih, W_hh, b, reverse in dirs:
        hs, c = _Recurrence.apply(F.linear(xs, W_ih, b), W_hh, keep, reverse, epsilon)
        outputs.append(hs.transpose(0, 1))  # (B, T, H)
        if c_n is not None:
            c_n.append(c)
    return torch.cat(outputs, -1)  # (B, T, D*H)


def fast_forward(lstm, x, epsilon=1e-6, lengths=None, all_layers=False, c_n=None):
    """The LSTM's output (B, T, D*H) recomputed so that its backward pass is LRP (gates detached).

    With ``all_layers``, the list of every layer's output sequence; the final cell states go
    to the list ``c_n`` if one is given.
    """
    layers, H, keep = _check(lstm, x, None, epsilon, lengths)
    outputs = [x]
    for dirs in layers:
        outputs.append(_fast_layer(dirs, outputs[-1], epsilon, keep, c_n))
    return outputs[1:] if all_layers else outputs[-1]


def lstm_lrp(lstm, x, R_out, epsilon=1e-6, lengths=None):
    """Same as :func:`lstm_lrp_literal`, as one backward pass: R_x = x * grad(sum(out * stop(R_out / out)))."""
    _check(lstm, x, R_out, epsilon, lengths)
    with torch.inference_mode(False), torch.enable_grad():
        x, R_out = usable(x).detach().requires_grad_(True), usable(R_out)
        out = fast_forward(lstm, x, epsilon, lengths)
        (g,) = torch.autograd.grad(out, x, safe_divide(R_out, out.detach()))
    return x.detach() * g


def equations_known(module):
    """Whether ``module`` is an LSTM whose equations are torch's (then LRP replaces its forward outright)."""
    from llmxai.nn.lstm import LSTM

    return type(module) in (torch.nn.LSTM, LSTM)


def lrp_output(module, args, kwargs, epsilon, record=None):
    """``(output, (h_n, c_n))`` of the LSTM ``module`` called with ``args, kwargs``, recomputed from its
    parameters so that the backward pass is LRP; ``record`` gets the relevance of its input."""
    named = dict(zip(("input", "hx", "lengths"), args))
    named.update(kwargs)
    if named.get("hx") is not None or set(named) - {"input", "hx", "lengths"}:
        unknown = sorted(set(named) - {"input", "hx", "lengths"})
        raise ValueError(f"lrp: {type(module).__name__} was called with an initial state (or unknown arguments "
                         f"{unknown}); LSTM LRP supports a zero initial state only")
    x, lengths = named["input"], named.get("lengths")
    batch_first = getattr(module, "batch_first", True)
    xb = x if batch_first else x.transpose(0, 1)
    if record is not None:
        xb = Tap.apply(xb, record)
    c_n = []
    seqs = fast_forward(module, xb, epsilon, lengths, all_layers=True, c_n=c_n)  # each (B, T, D*H)
    output = seqs[-1] if batch_first else seqs[-1].transpose(0, 1)
    h_n, H = [], c_n[0].shape[-1]
    for seq in seqs:
        if lengths is None:
            h_n.append(seq[:, -1, :H])
        else:
            h_n.append(seq[torch.arange(seq.shape[0], device=seq.device), lengths.to(seq.device) - 1, :H])
        if seq.shape[-1] > H:
            h_n.append(seq[:, 0, H:])
    return output, (torch.stack(h_n, 0), torch.stack(c_n, 0))


def fast_output(module, args, kwargs, out, epsilon, record=None):
    """Forward hook body for an LSTM of another class: its output replaced by :func:`lrp_output`, which must
    reproduce it (else the module does not follow torch's equations, and LRP refuses)."""
    new = lrp_output(module, args, kwargs, epsilon, record)
    if not torch.allclose(new[0], out[0], rtol=1e-4, atol=1e-5):
        raise ValueError(f"lrp: recomputing {type(module).__name__} from its parameters does not reproduce its output; "
                         "LSTM LRP needs torch's LSTM equations and parameter names")
    return new
