import pytest
import torch
from torch import nn

from llmxai.hooks import hook_names, run_with_cache, run_with_patches
from llmxai.nn import LSTM, RNN, LSTMCell, RNNCell
from llmxai.nn.lstm import _recurrence, _Recurrence

F64 = torch.float64


def values_and_input_grads(run, inputs, seed=1):
    """Outputs of ``run()`` and the gradients of a random linear function of them w.r.t. ``inputs``."""
    outs = run()
    g = torch.Generator().manual_seed(seed)
    loss = sum((o * torch.randn(o.shape, generator=g, dtype=o.dtype)).sum() for o in outs)
    return list(outs) + list(torch.autograd.grad(loss, inputs))


def assert_all_close(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


# ---- plain tanh RNN ---------------------------------------------------------------


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_h0", [False, True])
def test_rnn_equals_torch(batch_first, with_h0):
    torch.manual_seed(0)
    ref = nn.RNN(3, 4, batch_first=batch_first).double()
    ours = RNN.from_torch(ref)
    x = torch.randn((2, 5, 3) if batch_first else (5, 2, 3), dtype=F64, requires_grad=True)
    h0 = torch.randn(1, 2, 4, dtype=F64, requires_grad=True)
    inputs = (x, h0) if with_h0 else (x,)
    assert_all_close(values_and_input_grads(lambda: ours(*inputs), inputs),
                     values_and_input_grads(lambda: ref(*inputs), inputs))


def test_rnn_cell_is_the_formula_and_equals_torch():
    torch.manual_seed(0)
    ref = nn.RNNCell(3, 4).double()
    cell = RNNCell.from_torch(ref)
    x, h = torch.randn(2, 3, dtype=F64), torch.randn(2, 4, dtype=F64)
    by_hand = torch.tanh(cell.weight_hh @ h.T + cell.weight_ih @ x.T + (cell.bias_ih + cell.bias_hh)[:, None]).T
    torch.testing.assert_close(cell(x, h), by_hand, atol=1e-12, rtol=0)
    torch.testing.assert_close(cell(x, h), ref(x, h), atol=1e-12, rtol=0)


def test_rnn_hidden_states_hook_reads_and_patches():
    torch.manual_seed(0)
    rnn = RNN(3, 4, batch_first=True)
    x = torch.randn(2, 5, 3)
    (out, h_n), cache = run_with_cache(rnn, x)
    assert torch.equal(cache["hook_h_l0"], out) and torch.equal(h_n[0], out[:, -1])
    out2, h_n2 = run_with_patches(rnn, x, patches={"hook_h_l0": torch.zeros(2, 5, 4)})
    assert torch.equal(out2, torch.zeros(2, 5, 4)) and torch.equal(h_n2, torch.zeros(1, 2, 4))


# ---- LSTM -------------------------------------------------------------------------

COMBOS = [(L, bf, bi, h0) for L in (1, 2) for bf in (False, True) for bi in (False, True) for h0 in (False, True)]


@pytest.mark.parametrize("num_layers, batch_first, bidirectional, with_state", COMBOS)
def test_lstm_equals_torch(num_layers, batch_first, bidirectional, with_state):
    torch.manual_seed(0)
    ref = nn.LSTM(3, 4, num_layers=num_layers, batch_first=batch_first, bidirectional=bidirectional).double()
    ours = LSTM.from_torch(ref)
    assert dict(ours.named_parameters()).keys() == dict(ref.named_parameters()).keys()
    B, T, D = 2, 5, 2 if bidirectional else 1
    x = torch.randn((B, T, 3) if batch_first else (T, B, 3), dtype=F64, requires_grad=True)
    h0 = torch.randn(num_layers * D, B, 4, dtype=F64, requires_grad=True)
    c0 = torch.randn(num_layers * D, B, 4, dtype=F64, requires_grad=True)
    args, inputs = ((x, (h0, c0)), (x, h0, c0)) if with_state else ((x,), (x,))

    def flat(model):
        return lambda: (lambda o: (o[0], *o[1]))(model(*args))

    theirs = values_and_input_grads(flat(ref), inputs)
    for fused in (True, False):
        ours.fused = fused
        assert_all_close(values_and_input_grads(flat(ours), inputs), theirs)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_lengths_equal_a_packed_sequence(bidirectional):
    torch.manual_seed(0)
    ref = nn.LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=bidirectional).double()
    ours = LSTM.from_torch(ref)
    x = torch.randn(4, 6, 3, dtype=F64, requires_grad=True)
    lengths = torch.tensor([6, 3, 1, 5])

    def torch_run():
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, (h, c) = ref(packed)
        return nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=6)[0], h, c

    theirs = values_and_input_grads(torch_run, (x,))
    for fused in (True, False):
        ours.fused = fused
        assert_all_close(values_and_input_grads(lambda: (lambda o: (o[0], *o[1]))(ours(x, lengths=lengths)), (x,)),
                         theirs)


def test_lstm_cell_equals_torch():
    torch.manual_seed(0)
    ref = nn.LSTMCell(3, 4).double()
    ours = LSTMCell.from_torch(ref)
    x = torch.randn(2, 3, dtype=F64, requires_grad=True)
    h, c = torch.randn(2, 4, dtype=F64, requires_grad=True), torch.randn(2, 4, dtype=F64, requires_grad=True)
    assert_all_close(values_and_input_grads(lambda: ours(x, (h, c)), (x, h, c)),
                     values_and_input_grads(lambda: ref(x, (h, c)), (x, h, c)))
    torch.testing.assert_close(ours(x)[0], ref(x)[0], atol=1e-12, rtol=0)


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_hand_written_backward_passes_gradcheck(masked, reverse):
    g = torch.Generator().manual_seed(0)
    T, B, H = 4, 3, 2
    make = lambda *s: torch.randn(*s, generator=g, dtype=F64, requires_grad=True)
    gx, w, h0, c0 = make(T, B, 4 * H), make(4 * H, H), make(B, H), make(B, H)
    keep = (torch.arange(T)[:, None] < torch.tensor([4, 2, 1])[None])[..., None] if masked else None
    # every output (hidden states, cell states, gates) gets a gradient
    assert torch.autograd.gradcheck(lambda *a: _Recurrence.apply(*a, keep, reverse), (gx, w, h0, c0))
    torch.testing.assert_close(_Recurrence.apply(gx, w, h0, c0, keep, reverse),
                               _recurrence(gx, w, h0, c0, keep, reverse), atol=1e-12, rtol=0)


def test_lstm_hook_points_read_the_gates_and_cells():
    torch.manual_seed(0)
    lstm = LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=True)
    names = hook_names(lstm)
    for k in (0, 1):
        for sfx in ("", "_reverse"):
            assert all(f"hook_{w}_l{k}{sfx}" in names for w in "hcifgo")
    x = torch.randn(2, 5, 3)
    (out, (h_n, c_n)), cache = run_with_cache(lstm, x)
    assert all(a.shape == (2, 5, 4) for a in cache.values())
    # the gate equations hold on the recorded values (Gers et al. 2000 forget gate)
    c, i, f, g, o = (cache[f"hook_{w}_l1"] for w in "cifgo")
    c_prev = torch.cat([torch.zeros(2, 1, 4), c[:, :-1]], dim=1)
    torch.testing.assert_close(c, f * c_prev + i * g)
    torch.testing.assert_close(cache["hook_h_l1"], o * torch.tanh(c))
    torch.testing.assert_close(out, torch.cat([cache["hook_h_l1"], cache["hook_h_l1_reverse"]], -1))
    torch.testing.assert_close(c_n[2], c[:, -1])
    torch.testing.assert_close(c_n[3], cache["hook_c_l1_reverse"][:, 0])


def test_lstm_patching_a_layer_output_changes_what_follows():
    torch.manual_seed(0)
    lstm = LSTM(3, 4, num_layers=2, batch_first=True)
    x = torch.randn(2, 5, 3)
    out, (h_n, _) = lstm(x)
    out2, (h_n2, _) = run_with_patches(lstm, x, patches={"hook_h_l0": lambda a: torch.zeros_like(a)})
    assert not torch.allclose(out, out2)
    zeros = torch.zeros(2, 5, 4)
    out3, (h_n3, _) = run_with_patches(lstm, x, patches={"hook_h_l1": zeros})
    assert torch.equal(out3, zeros) and torch.equal(h_n3[1], zeros[:, -1])
    torch.testing.assert_close(h_n3[0], h_n[0])


def test_lstm_parameter_gradients_equal_torch():
    torch.manual_seed(0)
    ref = nn.LSTM(3, 4, num_layers=2, bidirectional=True).double()
    ours = LSTM.from_torch(ref)
    x = torch.randn(5, 2, 3, dtype=F64)
    ours(x)[0].pow(2).sum().backward()
    ref(x)[0].pow(2).sum().backward()
    theirs = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, theirs[name].grad, atol=1e-10, rtol=0, msg=name)


# ---- bad input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, error, text",
    [
        (lambda m: m(torch.randn(5, 3)), ValueError, "3-D"),
        (lambda m: m(torch.randn(5, 2, 7)), ValueError, "input size"),
        (lambda m: m(torch.randn(0, 2, 3)), ValueError, "at least one time step"),
        (lambda m: m(torch.ones(5, 2, 3, dtype=torch.long)), TypeError, "floating"),
        (lambda m: m(torch.full((5, 2, 3), float("nan"))), ValueError, "NaN"),
        (lambda m: m(torch.randn(5, 2, 3), (torch.zeros(1, 3, 4), torch.zeros(1, 3, 4))), ValueError, "h_0"),
        (lambda m: m(torch.randn(5, 2, 3), torch.zeros(1, 2, 4)), TypeError, "pair"),
        (lambda m: m(torch.randn(5, 2, 3), lengths=torch.tensor([5, 0])), ValueError, "no empty"),
        (lambda m: m(torch.randn(5, 2, 3), lengths=torch.tensor([5, 6])), ValueError, r"\[1, 5\]"),
        (lambda m: m(torch.randn(5, 2, 3), lengths=torch.tensor([5, 5, 5])), ValueError, "batch size"),
        (lambda m: m(torch.randn(5, 2, 3), lengths=torch.tensor([5.0, 5.0])), TypeError, "integer"),
        (lambda m: m(torch.randn(5, 2, 3, dtype=F64)), TypeError, "float32"),
        (lambda m: m(torch.randn(5, 2, 3), (torch.zeros(1, 2, 4, dtype=F64),) * 2), TypeError, "h_0: expected dtype"),
    ],
)
def test_lstm_bad_input_is_named(call, error, text):
    with pytest.raises(error, match=text):
        call(LSTM(3, 4))


@pytest.mark.parametrize(
    "call, error, text",
    [
        (lambda: RNN(3, 4)(torch.randn(5, 2, 2)), ValueError, "input size"),
        (lambda: RNN(3, 4)(torch.randn(5, 2, 3), torch.zeros(1, 3, 4)), ValueError, "h_0"),
        (lambda: RNN(3, 4)(torch.randn(0, 2, 3)), ValueError, "at least one"),
        (lambda: RNNCell(3, 4)(torch.randn(2, 3), torch.zeros(3, 4)), ValueError, "h: expected shape"),
        (lambda: LSTMCell(3, 4)(torch.randn(2, 3), (torch.zeros(2, 4), torch.zeros(1, 4))), ValueError, "c: expected"),
        (lambda: LSTMCell(3, 4)(torch.tensor([[1.0, float("nan"), 0.0]])), ValueError, "NaN"),
        (lambda: RNN(3, 4)(torch.randn(5, 2, 3, dtype=F64)), TypeError, "dtype"),
        (lambda: LSTMCell(3, 4)(torch.randn(2, 3, dtype=F64)), TypeError, "dtype"),
        (lambda: LSTMCell(3, 4)(torch.randn(2, 3), torch.zeros(2, 4)), TypeError, "pair"),
        (lambda: LSTM(0, 4), ValueError, "input_size"),
        (lambda: LSTM(3, 4, num_layers=1.5), TypeError, "num_layers"),
        (lambda: LSTM.from_torch(nn.GRU(3, 4)), TypeError, "nn.LSTM"),
        (lambda: LSTM.from_torch(nn.LSTM(3, 4, proj_size=2)), ValueError, "proj_size"),
        (lambda: RNN.from_torch(nn.RNN(3, 4, num_layers=2)), ValueError, "num_layers=1"),
        (lambda: RNN.from_torch(nn.RNN(3, 4, nonlinearity="relu")), ValueError, "tanh"),
    ],
)
def test_other_bad_input_is_named(call, error, text):
    with pytest.raises(error, match=text):
        call()
