import pytest
import torch
import torch.nn.functional as F

from llmxai.hooks import run_with_cache, run_with_patches
from llmxai.nn import AdditiveAttention, Seq2Seq

F64 = torch.float64
PAD, BOS, EOS = 0, 1, 2


# ---- additive attention ------------------------------------------------------------


def additive_by_hand(att, s, H, mask):
    """Bahdanau et al. (2015) eq. for one query per batch row, written as a loop over positions."""
    B, T, _ = H.shape
    e = torch.stack([att.v.weight[0] @ torch.tanh(att.W_s.weight @ s[b] + att.W_h.weight @ H[b, j])
                     for b in range(B) for j in range(T)]).reshape(B, T)
    e = e.masked_fill(~mask, float("-inf"))
    alpha = torch.softmax(e, dim=-1)
    return (alpha[..., None] * H).sum(1), alpha


def test_additive_attention_is_the_formula_with_gradients():
    torch.manual_seed(0)
    att = AdditiveAttention(3, 4, 5).double()
    s = torch.randn(2, 3, dtype=F64, requires_grad=True)
    H = torch.randn(2, 6, 4, dtype=F64, requires_grad=True)
    mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    ours, theirs = att(s, H, mask), additive_by_hand(att, s, H, mask)
    up = torch.randn(2, 4, dtype=F64)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    ga = torch.autograd.grad((ours[0] * up).sum(), (s, H))
    gb = torch.autograd.grad((theirs[0] * up).sum(), (s, H))
    for a, b in zip(ga, gb):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    assert torch.equal(ours[1][1, 4:], torch.zeros(2, dtype=F64))
    torch.testing.assert_close(ours[1].sum(-1), torch.ones(2, dtype=F64))


def test_additive_attention_many_queries_equal_one_at_a_time():
    torch.manual_seed(0)
    att = AdditiveAttention(3, 4, 5).double()
    q, H = torch.randn(2, 7, 3, dtype=F64), torch.randn(2, 6, 4, dtype=F64)
    mask = torch.rand(2, 6) > 0.3
    mask[:, 0] = True
    ctx, w = att(q, H, mask)
    for t in range(7):
        c1, w1 = att(q[:, t], H, mask)
        torch.testing.assert_close(ctx[:, t], c1, atol=1e-12, rtol=0)
        torch.testing.assert_close(w[:, t], w1, atol=1e-12, rtol=0)


def test_additive_attention_fully_masked_row_gives_zero_context():
    att = AdditiveAttention(3, 4, 5)
    ctx, w = att(torch.randn(2, 3), torch.randn(2, 6, 4), torch.tensor([[False] * 6, [True] * 6]))
    assert torch.equal(w[0], torch.zeros(6)) and torch.equal(ctx[0], torch.zeros(4))


@pytest.mark.parametrize(
    "args, error, text",
    [
        ((torch.randn(2, 2), torch.randn(2, 6, 4)), ValueError, "d_query"),
        ((torch.randn(2, 3), torch.randn(2, 6, 5)), ValueError, "d_key"),
        ((torch.randn(3, 3), torch.randn(2, 6, 4)), ValueError, "batch size"),
        ((torch.randn(2, 3), torch.randn(2, 0, 4)), ValueError, "at least one source"),
        ((torch.randn(2, 3), torch.randn(2, 6, 4), torch.ones(2, 6)), TypeError, "torch.bool"),
        ((torch.randn(2, 3), torch.randn(2, 6, 4), torch.ones(2, 5, dtype=torch.bool)), ValueError, "mask"),
        ((torch.full((2, 3), float("nan")), torch.randn(2, 6, 4)), ValueError, "NaN"),
        ((torch.randn(2, 3, dtype=F64), torch.randn(2, 6, 4)), TypeError, "dtype"),
    ],
)
def test_additive_attention_bad_input(args, error, text):
    with pytest.raises(error, match=text):
        AdditiveAttention(3, 4, 5)(*args)


# ---- sequence to sequence ----------------------------------------------------------


def reverse_task(n, g, T=5, V=9):
    """Random sequences of ids 3..V-1 with lengths 2..T (padded with 0), target = reversed + EOS."""
    lengths = torch.randint(2, T + 1, (n,), generator=g)
    src = torch.randint(3, V, (n, T), generator=g) * (torch.arange(T)[None] < lengths[:, None])
    tgt = torch.full((n, T + 2), PAD)
    tgt[:, 0] = BOS
    for b, L in enumerate(lengths.tolist()):
        tgt[b, 1:L + 1] = src[b, :L].flip(0)
        tgt[b, L + 1] = EOS
    return src, lengths, tgt


def test_tiny_seq2seq_learns_to_reverse():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = Seq2Seq(9, 9, 16, 32)
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(60):
        src, lengths, tgt = reverse_task(64, g)
        logits = model(src, tgt[:, :-1], lengths)  # teacher forcing
        loss = F.cross_entropy(logits.reshape(-1, 9), tgt[:, 1:].reshape(-1), ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        opt.step()
    src, lengths, tgt = reverse_task(200, torch.Generator().manual_seed(1))
    with torch.no_grad():
        tokens, attention = model.greedy_decode(src, 6, BOS, EOS, lengths)
    n = tokens.shape[1]
    exact = (tokens == tgt[:, 1:n + 1]).all(dim=1).float().mean().item()
    assert exact >= 0.9, f"exact-match accuracy {exact:.2f} after training"
    # reversing: the first output token attends most to the last real source token
    assert (attention[:, 0].argmax(-1) == lengths - 1).float().mean() >= 0.9
    pad = torch.arange(src.shape[1])[None, None] >= lengths[:, None, None]  # (B, 1, T_src)
    assert not attention.masked_select(pad).any()  # padded source positions get exactly zero


def small_batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    return reverse_task(3, g, T=6)


def test_padding_gets_zero_attention_and_changes_nothing():
    torch.manual_seed(0)
    model = Seq2Seq(9, 9, 8, 8, bidirectional=True)
    src, lengths, tgt = small_batch()
    logits, cache = run_with_cache(model, src, tgt[:, :-1], lengths, names=["hook_attn"])
    attn = cache["hook_attn"]
    assert attn.shape == (3, 7, 6)
    real = torch.arange(6)[None] < lengths[:, None]  # (B, T_src)
    assert torch.equal(attn * ~real[:, None], torch.zeros_like(attn))
    torch.testing.assert_close(attn.sum(-1), torch.ones(3, 7))
    other = torch.where(real, src, torch.full_like(src, 5))  # different ids in the padding
    torch.testing.assert_close(model(other, tgt[:, :-1], lengths), logits, atol=1e-6, rtol=0)


def test_greedy_decode_agrees_with_teacher_forcing_on_its_own_output():
    torch.manual_seed(0)
    model = Seq2Seq(9, 9, 8, 8).double()
    src, lengths, _ = small_batch()
    tokens, attention = model.greedy_decode(src, 5, BOS, EOS, lengths)
    assert tokens.shape[0] == 3 and attention.shape == (3, tokens.shape[1], 6)
    tgt_in = torch.cat([torch.full((3, 1), BOS), tokens[:, :-1]], dim=1)
    done = torch.cumsum((tokens == EOS).long(), 1) - (tokens == EOS).long() > 0  # steps after an EOS
    tgt_in = tgt_in.masked_fill(torch.cat([torch.zeros(3, 1, dtype=torch.bool), done[:, :-1]], 1), PAD)
    logits, cache = run_with_cache(model, src, tgt_in, lengths, names=["hook_attn"])
    live = ~done
    assert torch.equal(logits.argmax(-1)[live], tokens[live])
    torch.testing.assert_close(cache["hook_attn"][live], attention[live], atol=1e-12, rtol=0)


def test_patching_a_step_attention_changes_the_output():
    torch.manual_seed(0)
    model = Seq2Seq(9, 9, 8, 8)
    src, lengths, tgt = small_batch()
    logits = model(src, tgt[:, :-1], lengths)
    first = torch.zeros(3, 6)
    first[:, 0] = 1.0
    patched = run_with_patches(model, src, tgt[:, :-1], lengths, patches={"attn.hook_weights": lambda w: first})
    assert not torch.allclose(logits, patched)


@pytest.mark.parametrize(
    "call, error, text",
    [
        (lambda m, s, t: m(s, t[:2]), ValueError, "batch size"),
        (lambda m, s, t: m(s + 9, t), ValueError, "src"),
        (lambda m, s, t: m(s, t - 3), ValueError, "tgt_in"),
        (lambda m, s, t: m(s.float(), t), TypeError, "src"),
        (lambda m, s, t: m(s[:, :0], t), ValueError, "at least one token"),
        (lambda m, s, t: m(s, t, torch.tensor([6, 0, 2])), ValueError, "src_lengths"),
        (lambda m, s, t: m(s, t, torch.tensor([6, 2])), ValueError, "batch size"),
        (lambda m, s, t: m.greedy_decode(s, 0, BOS, EOS), ValueError, "max_len"),
        (lambda m, s, t: m.greedy_decode(s, 5, 9, EOS), ValueError, "bos_id"),
        (lambda m, s, t: Seq2Seq(0, 9, 8, 8), ValueError, "src_vocab"),
        (lambda m, s, t: Seq2Seq(9, 4, 8, 8, pad_id=4), ValueError, "pad_id"),
    ],
)
def test_seq2seq_bad_input(call, error, text):
    src, _, tgt = small_batch()
    with pytest.raises(error, match=text):
        call(Seq2Seq(9, 9, 8, 8), src, tgt)
