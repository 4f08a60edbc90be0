"""Lesson 5 (recurrent networks): the tanh recurrence over a batch, an LSTM cell on ``[x_t, h]``,
and reading each sequence's last real state out of a padded batch."""

import torch

from llmxai.device import generator
from llmxai.lesson_checks.common import _what, check_own_work, close, passed, run, tensor_of_shape

_READY = ("RNN", "RNNCell", "rnn_tanh", "LSTM", "LSTMCell", "lstm_cell", "lstm_step", "rnn_step")


def _rnn(x, W_h, W_x, b, *, act=torch.tanh, carry=True, transpose_h=False):
    B, T, _ = x.shape
    h = torch.zeros(B, W_h.shape[0], dtype=x.dtype)
    states = []
    for t in range(T):
        prev = h if carry else torch.zeros_like(h)
        h = act(prev @ (W_h if transpose_h else W_h.T) + x[:, t] @ W_x.T + b)
        states.append(h)
    return torch.stack(states, dim=1)  # (B, T, H)


def check_rnn_forward(rnn_forward, seed=0):
    """Check ``rnn_forward(x (B, T, d_in), W_h (H, H), W_x (H, d_in), b (H,)) -> (B, T, H)``:
    ``h_t = tanh(W_h h_{t-1} + W_x x_t + b)``, ``h_0 = 0``, every ``h_1 .. h_T``."""
    check_own_work(rnn_forward, forbidden=_READY, exercise="rnn_forward")
    g = generator(seed)
    B, T, d_in, H = 3, 5, 4, 6
    x = torch.randn(B, T, d_in, generator=g, dtype=torch.float64)
    W_h = torch.randn(H, H, generator=g, dtype=torch.float64) * 0.6
    W_x = torch.randn(H, d_in, generator=g, dtype=torch.float64) * 0.6
    b = torch.randn(H, generator=g, dtype=torch.float64) * 0.3
    got = run(rnn_forward, x.clone(), W_h.clone(), W_x.clone(), b.clone())
    want = _rnn(x, W_h, W_x, b)
    if isinstance(got, tuple):
        raise AssertionError("return one tensor, the states (B, T, H)")
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (B, H):
        raise AssertionError("you returned only the last state: return every state h_1 .. h_T, shape (B, T, H)")
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (B, T + 1, H):
        raise AssertionError("T + 1 states: leave out h_0 = 0 and return h_1 .. h_T, the state after each input")
    tensor_of_shape(got, (B, T, H), "the states (B, T, H)")
    h0 = torch.zeros(B, 1, H, dtype=x.dtype)
    if close(got, torch.cat([h0, want[:, :-1]], dim=1)):
        raise AssertionError("shifted by one step: position t holds h_t, the state after reading x_t (not h_{t-1})")
    if close(got, _rnn(x, W_h, W_x, b, act=lambda z: z)):
        raise AssertionError("no tanh: h_t = tanh(W_h h_{t-1} + W_x x_t + b)")
    if close(got, _rnn(x, W_h, W_x, b, carry=False)):
        raise AssertionError("the state is not carried: each step must use the previous step's h, not zeros")
    if close(got, _rnn(x, W_h, W_x, b, transpose_h=True)):
        raise AssertionError("W_h is transposed: with states as rows (B, H), the product W_h h is h @ W_h.T")
    if close(got, _rnn(x, W_h, W_x, b * 0)):
        raise AssertionError("the bias b is missing")
    if not close(got, want):
        raise AssertionError("states differ from h_t = tanh(h_{t-1} @ W_h.T + x_t @ W_x.T + b)")
    return passed("rnn_forward")


def _lstm(x, h, c, W, b, *, order="ifgo", g_act=torch.tanh, h_of_c=torch.tanh, use_i=True, concat="xh"):
    z = torch.cat([x, h] if concat == "xh" else [h, x], dim=-1) @ W.T + b  # (B, 4H)
    gates = dict(zip(order, z.chunk(4, dim=-1)))
    i, f, o = (torch.sigmoid(gates[k]) for k in "ifo")
    g = g_act(gates["g"])
    c_new = f * c + (i * g if use_i else g)
    return o * h_of_c(c_new), c_new


def check_lstm_cell(lstm_cell, seed=0):
    """Check ``lstm_cell(x_t (B, d_in), h (B, H), c (B, H), W (4H, d_in + H), b (4H,)) -> (h, c)``.

    ``z = [x_t, h] @ W^T + b`` split into ``i, f, g, o`` (in that order); ``c' = f c + i g``, ``h' = o tanh(c')``.
    """
    check_own_work(lstm_cell, forbidden=_READY, exercise="lstm_cell")
    g = generator(seed)
    B, d_in, H = 3, 4, 5
    x = torch.randn(B, d_in, generator=g, dtype=torch.float64)
    h = torch.randn(B, H, generator=g, dtype=torch.float64) * 0.5
    c = torch.randn(B, H, generator=g, dtype=torch.float64)
    W = torch.randn(4 * H, d_in + H, generator=g, dtype=torch.float64) * 0.5
    b = torch.randn(4 * H, generator=g, dtype=torch.float64) * 0.5
    got = run(lstm_cell, x.clone(), h.clone(), c.clone(), W.clone(), b.clone())
    if not (isinstance(got, tuple) and len(got) == 2):
        raise AssertionError(f"return the pair (h, c), got {_what(got)}")
    h_new, c_new = got
    tensor_of_shape(h_new, (B, H), "h (B, H)")
    tensor_of_shape(c_new, (B, H), "c (B, H)")
    want_h, want_c = _lstm(x, h, c, W, b)
    if close(h_new, want_c) and close(c_new, want_h):
        raise AssertionError("the pair is swapped: return (h, c)")
    mistakes = [
        (dict(order="fi" + "go"), "the gates come in the order i, f, g, o: input, forget, candidate, output"),
        (dict(order="ifog"), "the gates come in the order i, f, g, o: the third block is the candidate g"),
        (dict(g_act=torch.sigmoid), "the candidate g uses tanh (values in (-1, 1)), not the sigmoid"),
        (dict(h_of_c=lambda t: t), "h = o * tanh(c): squash the cell state before the output gate"),
        (dict(use_i=False), "the input gate is missing: c = f * c_prev + i * g"),
        (dict(concat="hx"), "concatenate [x_t, h] in that order: W's first d_in columns read x_t"),
    ]
    for switches, hint in mistakes:
        wrong_h, wrong_c = _lstm(x, h, c, W, b, **switches)
        if close(h_new, wrong_h) and close(c_new, wrong_c):
            raise AssertionError(hint)
    if close(h_new, want_h) != close(c_new, want_c):
        raise AssertionError(f"{'c' if close(h_new, want_h) else 'h'} differs: c = f * c_prev + i * g and "
                             "h = o * tanh(c), with the NEW c")
    if not (close(h_new, want_h) and close(c_new, want_c)):
        raise AssertionError("(h, c) differ from the LSTM equations: z = [x_t, h] @ W.T + b, "
                             "i, f, o = sigmoid, g = tanh, c = f c_prev + i g, h = o tanh(c)")
    return passed("lstm_cell")


def check_last_states(last_states, seed=0):
    """Check ``last_states(states (B, T, H), lengths (B,)) -> (B, H)``: each sequence's state at ``t = length - 1``."""
    g = generator(seed)
    B, T, H = 4, 7, 3
    states = torch.randn(B, T, H, generator=g, dtype=torch.float64)
    lengths = torch.tensor([2, 6, 3, 5])[torch.randperm(B, generator=g)]  # all shorter than T: padding follows
    got = run(last_states, states.clone(), lengths.clone())
    rows = torch.arange(B)
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (B, B, H):
        raise AssertionError("(B, B, H): states[:, lengths - 1] takes every length for every sequence; "
                             "take one position per row, states[torch.arange(B), lengths - 1]")
    tensor_of_shape(got, (B, H), "one state per sequence (B, H)")
    if close(got, states[:, -1]):
        raise AssertionError("the last position is padding for every sequence shorter than T: take t = length - 1")
    if close(got, states[rows, lengths]):
        raise AssertionError("off by one: a sequence of length L ends at index L - 1")
    if close(got, states[rows, 0]):
        raise AssertionError("that is the first state: take t = length - 1")
    if not close(got, states[rows, lengths - 1]):
        raise AssertionError("expected states[b, lengths[b] - 1] for each sequence b")
    return passed("last_states")
