import pytest
import torch

from llmxai.explain.mech import (activation_patching, control_task, induction_head_scores, linear_probe,
                                 logit_difference, logit_lens, previous_token_head_scores, selectivity)
from llmxai.hooks import hooks, run_with_cache, run_with_patches
from toy_transformer import TinyLM, induction_model

D = torch.float64


@pytest.fixture(scope="module")
def lm():
    return TinyLM(V=20, d_model=16, n_heads=2, n_layers=2).double()


def ids_pair():
    g = torch.Generator().manual_seed(0)
    clean = torch.randint(1, 20, (3, 6), generator=g)
    corrupt = clean.clone()
    corrupt[:, 2] = torch.randint(1, 20, (3,), generator=g)
    corrupt[:, 4] = torch.randint(1, 20, (3,), generator=g)
    return clean, corrupt


def ld(logits):
    return logit_difference(logits, 3, 7)


def test_logit_difference_by_hand():
    logits = torch.arange(2 * 3 * 5, dtype=D).reshape(2, 3, 5)
    torch.testing.assert_close(logit_difference(logits, 4, 1), torch.tensor([3.0, 3.0], dtype=D))
    out = logit_difference(logits, torch.tensor([0, 2]), torch.tensor([1, 0]), position=0)
    torch.testing.assert_close(out, torch.tensor([-1.0, 2.0], dtype=D))
    torch.testing.assert_close(logit_difference(logits[:, 1], 0, 4), torch.tensor([-4.0, -4.0], dtype=D))


def test_patching_the_last_residual_stream_recovers_clean_and_corrupt_metrics(lm):
    clean, corrupt = ids_pair()
    last = "blocks.1.hook_resid_post"
    denoised = activation_patching(lm, clean, corrupt, ld, [last])
    noised = activation_patching(lm, clean, corrupt, ld, [last], direction="noising")
    assert denoised.shape == (1,)
    torch.testing.assert_close(denoised[0], ld(lm(clean)).mean().float(), rtol=0, atol=1e-6)
    torch.testing.assert_close(noised[0], ld(lm(corrupt)).mean().float(), rtol=0, atol=1e-6)
    with torch.no_grad():
        assert abs(float(ld(lm(clean)).mean() - ld(lm(corrupt)).mean())) > 1e-3  # the test can fail


def test_patching_one_embedding_position_equals_swapping_that_token(lm):
    clean, corrupt = ids_pair()
    out = activation_patching(lm, clean, corrupt, ld, ["blocks.0.hook_resid_pre"], per="position")
    assert out.shape == (1, 6)
    for p in range(6):
        hybrid = corrupt.clone()
        hybrid[:, p] = clean[:, p]
        torch.testing.assert_close(out[0, p], ld(lm(hybrid)).mean().float(), rtol=0, atol=1e-6)
    unchanged = [p for p in range(6) if p not in (2, 4)]
    torch.testing.assert_close(out[0, unchanged], ld(lm(corrupt)).mean().float().expand(4), rtol=0, atol=1e-6)


def test_patching_per_head_matches_a_hand_written_hook(lm):
    clean, corrupt = ids_pair()
    _, cache = run_with_cache(lm, clean)
    name = "blocks.1.attn.hook_z"
    per_head = activation_patching(lm, clean, corrupt, ld, [name], per="head")
    grid = activation_patching(lm, clean, corrupt, ld, name, per="head_position")
    assert per_head.shape == (1, 2) and grid.shape == (1, 2, 6)
    for h in range(2):
        def swap(z, h=h):
            z = z.clone()
            z[:, h] = cache[name][:, h]
            return z
        with hooks(lm, {name: swap}):
            expected = ld(lm(corrupt)).mean().float()
        torch.testing.assert_close(per_head[0, h], expected, rtol=0, atol=1e-6)
        z_pos = cache[name][:, h, 3]
        def swap_pos(z, h=h):
            z = z.clone()
            z[:, h, 3] = z_pos
            return z
        expected_pos = ld(run_with_patches(lm, corrupt, patches={name: swap_pos})).mean().float()
        torch.testing.assert_close(grid[0, h, 3], expected_pos, rtol=0, atol=1e-6)


def test_patching_a_glob_pattern_keeps_forward_order(lm):
    clean, corrupt = ids_pair()
    out = activation_patching(lm, clean, corrupt, ld, "blocks.*.hook_resid_post")
    one = activation_patching(lm, clean, corrupt, ld, ["blocks.0.hook_resid_post"])
    assert out.shape == (2,)
    torch.testing.assert_close(out[0], one[0])


def test_logit_lens_last_layer_is_the_model_output(lm):
    ids, _ = ids_pair()
    lens = logit_lens(lm, ids)
    assert lens.shape == (3, 3, 6, 20)
    torch.testing.assert_close(lens[-1], lm(ids), rtol=0, atol=1e-12)
    first = lm.unembed(lm.ln_f(lm.embed(ids) + lm.pos[:6]))
    torch.testing.assert_close(lens[0], first, rtol=0, atol=1e-12)


def test_hand_built_previous_token_and_induction_heads_are_found():
    model = induction_model()
    prev = previous_token_head_scores(model, seq_len=12, n_sequences=4)
    assert prev.shape == (2, 2)
    assert prev[0, 0] > 0.999
    assert prev[0, 1] < 0.5 and prev[1].max() < 0.5
    ind = induction_head_scores(model, seq_len=8, n_sequences=4, bos=0)
    assert ind[1, 0] > 0.999
    assert ind[0].max() < 0.2 and ind[1, 1] < 0.2
    # The induction head predicts the repeated token: the second copy's logits point at the next token.
    r = torch.randperm(11, generator=torch.Generator().manual_seed(1))[:6] + 1
    ids = torch.cat([torch.zeros(1, dtype=torch.long), r, r])[None]
    pred = model(ids)[0, 7:-1].argmax(-1)
    assert torch.equal(pred, r[1:])


def test_induction_scores_read_from_content_match_the_fixed_layout():
    model = induction_model()
    fixed = induction_head_scores(model, seq_len=8, n_sequences=4, bos=0, seed=3)
    g = torch.Generator().manual_seed(3)
    r = torch.stack([torch.randperm(11, generator=g)[:8] + 1 for _ in range(4)])
    ids = torch.cat([torch.zeros(4, 1, dtype=torch.long), r, r], 1)
    torch.testing.assert_close(induction_head_scores(model, ids=ids), fixed, rtol=0, atol=1e-12)


def test_hand_built_induction_head_is_found_at_any_offset_and_length():
    from llmxai.data import repeated_segments

    model = induction_model(V=60)
    ids, starts, lengths = repeated_segments(16, 24, 60, min_repeat=3, max_repeat=8, seed=0)
    assert len(set(lengths.tolist())) > 2 and len(set(starts.tolist())) > 2
    second = torch.zeros_like(ids, dtype=torch.bool)
    for i, (s, L) in enumerate(zip(starts.tolist(), lengths.tolist())):
        second[i, s + L:s + 2 * L] = True
    ind = induction_head_scores(model, ids=ids, queries=second)
    assert ind[1, 0] > 0.95 and ind[0].max() < 0.2
    # Tokens of the filler that repeat by chance have several earlier copies, which the
    # hand-built head attends to alike, so counting them lowers its score.
    assert induction_head_scores(model, ids=ids)[1, 0] < ind[1, 0]


def test_induction_pairs_take_the_latest_earlier_occurrence():
    from llmxai.explain.mech import _induction_pairs

    row, query, key = _induction_pairs(torch.tensor([[5, 1, 5, 2, 5, 5]]))
    assert query.tolist() == [2, 4, 5] and key.tolist() == [1, 3, 5] and row.tolist() == [0, 0, 0]


def test_random_model_has_no_perfect_heads(lm):
    assert induction_head_scores(lm, seq_len=6).max() < 0.9


def test_probe_matches_sklearn_logistic_regression():
    from sklearn.linear_model import LogisticRegression

    g = torch.Generator().manual_seed(0)
    X = torch.randn(200, 5, generator=g, dtype=D)
    y = (X @ torch.randn(5, 3, generator=g, dtype=D) + 0.5 * torch.randn(200, 3, generator=g, dtype=D)).argmax(1)
    wd = 1e-2
    res = linear_probe(X, y, weight_decay=wd, seed=1)
    Xs = ((X - res.mean) / res.std)[res.train_index].numpy()
    sk = LogisticRegression(C=1 / (2 * wd * len(res.train_index)), tol=1e-12, max_iter=5000).fit(Xs, y[res.train_index].numpy())
    torch.testing.assert_close(res.weight, torch.from_numpy(sk.coef_.T), rtol=0, atol=1e-4)
    assert res.test_accuracy > 0.7 and res.train_accuracy > 0.7


def test_control_task_and_selectivity_tell_memorisation_apart():
    g = torch.Generator().manual_seed(0)
    words = torch.randint(0, 40, (600,), generator=g)
    labels = (words % 2)  # a property of the word type
    control = control_task(words, labels, seed=3)
    assert all(len(set(control[words == w].tolist())) <= 1 for w in range(40))  # one label per type
    torch.testing.assert_close(control_task(words, labels, seed=3), control)
    one_hot = torch.nn.functional.one_hot(words, 40).double() + 0.01 * torch.randn(600, 40, generator=g, dtype=D)
    only_property = labels[:, None].double() + 0.3 * torch.randn(600, 1, generator=g, dtype=D)
    rich = linear_probe(one_hot, labels, control)
    lean = linear_probe(only_property, labels, control)
    assert rich.test_accuracy > 0.95 and rich.control_test_accuracy > 0.9  # memorises word types
    assert lean.control_test_accuracy < 0.75
    assert lean.selectivity > rich.selectivity + 0.2
    assert selectivity(0.9, 0.6) == pytest.approx(0.3)
    uniform = control_task(words, n_classes=5, seed=0)
    assert uniform.max() < 5 and len(uniform.unique()) > 1


@pytest.mark.parametrize("call, match", [
    (lambda m, c, k: activation_patching(m, c, k, ld, ["blocks.9.hook_z"]), "valid names are"),
    (lambda m, c, k: activation_patching(m, c, k, ld, "nothing.*"), "matches no hook point"),
    (lambda m, c, k: activation_patching(m, c, k, ld, ["blocks.0.hook_resid_pre"], per="head"), "per-head"),
    (lambda m, c, k: activation_patching(m, c, k[:, :4], ld, "blocks.*.hook_resid_post"), "clean shape"),
    (lambda m, c, k: activation_patching(m, c, k, ld, [], per="all"), "unknown hook"),
    (lambda m, c, k: activation_patching(m, c, k, ld, "*resid_pre", per="layer"), "per: expected one of"),
    (lambda m, c, k: activation_patching(m, c, k, ld, "*resid_pre", direction="up"), "direction"),
    (lambda m, c, k: activation_patching(m, c, k, lambda x: x, "*resid_pre"), "metric: expected a scalar"),
    (lambda m, c, k: logit_difference(m(c), 25, 0), r"ids in \[0, 20\)"),
    (lambda m, c, k: logit_difference(m(c), 1, 0, position=6), "position"),
    (lambda m, c, k: logit_lens(torch.nn.Linear(2, 2), c), "missing"),
    (lambda m, c, k: linear_probe(torch.randn(5, 2), torch.zeros(4, dtype=torch.long)), "number of samples"),
    (lambda m, c, k: linear_probe(torch.randn(5, 2), torch.zeros(5, dtype=torch.long), test_fraction=1.5), "test_fraction"),
    (lambda m, c, k: linear_probe(torch.randn(5, 2), torch.zeros(5)), "integer tensor"),
    (lambda m, c, k: control_task(torch.arange(4)), "neither"),
    (lambda m, c, k: selectivity(1.2, 0.1), "accuracy in"),
    (lambda m, c, k: previous_token_head_scores(m, torch.ones(2, 1, dtype=torch.long)), "at least 2 tokens"),
    (lambda m, c, k: previous_token_head_scores(torch.nn.Linear(2, 2), seq_len=4, vocab_size=5), "hook_pattern"),
    (lambda m, c, k: induction_head_scores(m, seq_len=1), ">= 2"),
    (lambda m, c, k: induction_head_scores(m, ids=torch.arange(1, 5)[None]), "occur twice"),
    (lambda m, c, k: induction_head_scores(m, ids=torch.ones(2, 3, 4, dtype=torch.long)), "ids"),
    (lambda m, c, k: induction_head_scores(m, ids=torch.ones(2, 3, dtype=torch.long), queries=torch.ones(2, 3)),
     "bool mask"),
    (lambda m, c, k: induction_head_scores(m, ids=torch.ones(2, 3, dtype=torch.long),
                                           queries=torch.zeros(2, 3, dtype=torch.bool)), "occur twice"),
])
def test_bad_input_raises_clear_errors(lm, call, match):
    clean, corrupt = ids_pair()
    with pytest.raises((ValueError, TypeError), match=match):
        call(lm, clean, corrupt)


def test_hooks_are_removed_when_the_metric_raises(lm):
    clean, corrupt = ids_pair()

    def broken(logits):
        raise RuntimeError("metric failed")

    with pytest.raises(RuntimeError, match="metric failed"):
        activation_patching(lm, clean, corrupt, broken, "blocks.*.attn.hook_pattern", per="position")
    assert all(not m._forward_hooks for m in lm.modules())
    assert not lm.training
