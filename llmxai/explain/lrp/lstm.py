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
from llmxai.explain.lrp._autograd import Tap, Through, pass_relevance
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


def _fast_layer(dirs, x, epsilon, keep):
    B, T, _ = x.shape
    H = dirs[0][1].shape[1]
    outputs = []
    for W_ih, W_hh, b, reverse in dirs:
        h, c = x.new_zeros(B, H), x.new_zeros(B, H)
        hs = [None] * T
        for t in _steps(T, reverse):
            pre = F.linear(x[:, t], W_ih) + F.linear(h, W_hh) + b  # (B, 4H)
            i, f, z, o = pre.chunk(4, -1)
            i, f, o = torch.sigmoid(i).detach(), torch.sigmoid(f).detach(), torch.sigmoid(o).detach()
            z = Through.apply(z, z.detach(), stable_ratio(z.detach(), epsilon))
            c_new = f * c + i * pass_relevance(z, torch.tanh(z))
            c_new = Through.apply(c_new, c_new.detach(), stable_ratio(c_new.detach(), epsilon))
            h_new = pass_relevance(c_new, o * torch.tanh(c_new))
            if keep is None:
                h, c, hs[t] = h_new, c_new, h_new
            else:
                h, c = torch.where(keep[:, t], h_new, h), torch.where(keep[:, t], c_new, c)
                hs[t] = h_new * keep[:, t]
        outputs.append(torch.stack(hs, 1))  # (B, T, H)
    return torch.cat(outputs, -1)  # (B, T, D*H)


def fast_forward(lstm, x, epsilon=1e-6, lengths=None, all_layers=False):
    """The LSTM's output (B, T, D*H) recomputed so that its backward pass is LRP (gates detached).

    With ``all_layers``, the list of every layer's output sequence.
    """
    layers, H, keep = _check(lstm, x, None, epsilon, lengths)
    outputs = [x]
    for dirs in layers:
        outputs.append(_fast_layer(dirs, outputs[-1], epsilon, keep))
    return outputs[1:] if all_layers else outputs[-1]


def lstm_lrp(lstm, x, R_out, epsilon=1e-6, lengths=None):
    """Same as :func:`lstm_lrp_literal`, as one backward pass: R_x = x * grad(sum(out * stop(R_out / out)))."""
    _check(lstm, x, R_out, epsilon, lengths)
    with torch.inference_mode(False), torch.enable_grad():
        x, R_out = usable(x).detach().requires_grad_(True), usable(R_out)
        out = fast_forward(lstm, x, epsilon, lengths)
        (g,) = torch.autograd.grad(out, x, safe_divide(R_out, out.detach()))
    return x.detach() * g


def fast_output(module, args, kwargs, out, epsilon, record=None):
    """Forward hook body for ``lrp``: replace an LSTM's (output, (h_n, c_n)) by the LRP-ready recomputation."""
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
    seqs = fast_forward(module, xb, epsilon, lengths, all_layers=True)  # each (B, T, D*H)
    output = seqs[-1] if batch_first else seqs[-1].transpose(0, 1)
    if not torch.allclose(output, out[0], rtol=1e-4, atol=1e-5):
        raise ValueError(f"lrp: recomputing {type(module).__name__} from its parameters does not reproduce its output; "
                         "LSTM LRP needs torch's LSTM equations and parameter names")
    h_n, H = [], out[1][0].shape[-1]
    for seq in seqs:
        if lengths is None:
            h_n.append(seq[:, -1, :H])
        else:
            h_n.append(seq[torch.arange(seq.shape[0], device=seq.device), lengths.to(seq.device) - 1, :H])
        if seq.shape[-1] > H:
            h_n.append(seq[:, 0, H:])
    _, (_, c_n) = out
    return output, (torch.stack(h_n, 0), c_n.detach())
