"""Recipes of the pretrained models: registered, buildable, fed by deterministic data.

No full training here (that is what ``python -m llmxai.bench`` measures); the round trip
through ``pretrained`` runs a recipe's own train function on a shrunken config.
"""

import dataclasses
import math

import pytest
import torch

import llmxai.pretrained as T
from llmxai import recipes
from llmxai.bench import training as bench_training
from llmxai.data.corpus import unigram_loss
from llmxai.data.dates import date_scores
from llmxai.data.induction import head_scores, second_copy
from llmxai.data import next_token_windows, repeated_segments, tokenizer_from_config
from llmxai.pretrained import known_pretrained, pretrained

# Shrunken recipes no longer match their shipped weights, so pretrained() says so and trains into the cache.
pytestmark = pytest.mark.filterwarnings("ignore:pretrained .*the shipped weights were trained by another")

NAMES = ["sentiment_lstm", "sentiment_transformer", "text_cnn", "date_seq2seq", "tiny_gpt", "induction", "digits_cnn"]


def test_every_recipe_is_registered_with_a_goal():
    known = set(known_pretrained())
    assert set(NAMES) <= known
    assert set(NAMES) <= set(bench_training.GOALS)


def _batch(name, data):
    if name in ("sentiment_lstm", "sentiment_transformer", "text_cnn"):
        ids, lengths, labels = data.test.tensors
        return (ids[:5], lengths[:5]), (5, 2)
    if name == "date_seq2seq":
        src, lengths, tgt = data.test.tensors
        return (src[:5], tgt[:5, :-1], lengths[:5]), (5, tgt.shape[1] - 1, data.tokenizer.vocab_size)
    if name == "tiny_gpt":
        x, _ = next_token_windows(data.validation, 32)
        return (x[:5],), (5, 32, data.tokenizer.vocab_size)
    if name == "induction":
        x, _ = recipes.induction_batch(0)
        return (x,), (*x.shape, recipes.INDUCTION_DATA["vocab_size"])
    if name == "digits_cnn":
        return (data.test.images[:5],), (5, 10)
    raise AssertionError(name)


DATA = {"sentiment_lstm": recipes.sentiment_data, "sentiment_transformer": recipes.sentiment_data,
        "text_cnn": recipes.sentiment_data, "date_seq2seq": recipes.date_data, "tiny_gpt": recipes.corpus_data,
        "induction": lambda **c: None, "digits_cnn": recipes.digits_data}


@pytest.mark.parametrize("name", NAMES)
def test_each_recipe_builds_and_runs_on_its_data(name):
    r = T._REGISTRY[name]
    torch.manual_seed(0)
    model = r.build(**r.config)
    data = DATA[name](**r.config["data"])
    if "tokenizer" in r.config:
        assert tokenizer_from_config(r.config["tokenizer"]) == data.tokenizer, "config carries the tokenizer"
    inputs, shape = _batch(name, data)
    with torch.no_grad():
        out = model(*inputs)
    assert out.shape == shape and torch.isfinite(out).all()


@pytest.mark.parametrize("make", [recipes.sentiment_data, recipes.date_data])
def test_data_helpers_are_deterministic_and_splits_disjoint(make):
    a, b = make(), make()
    for split in ("train", "validation", "test"):
        sa, sb = getattr(a, split), getattr(b, split)
        assert sa.examples == sb.examples
        assert all(torch.equal(x, y) for x, y in zip(sa.tensors, sb.tensors))
    key = (lambda ex: ex.tokens) if make is recipes.sentiment_data else (lambda ex: ex.date)
    seen = [{key(ex) for ex in getattr(a, s).examples} for s in ("train", "validation", "test")]
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])
    c = recipes.SENTIMENT_DATA if make is recipes.sentiment_data else recipes.DATE_DATA
    assert (len(a.train), len(a.validation), len(a.test)) == (c["n_train"], c["n_validation"], c["n_test"])
    other = make(seed=1)
    assert other.train.examples != a.train.examples


def test_corpus_digits_and_induction_data_are_deterministic():
    a, b = recipes.corpus_data(), recipes.corpus_data()
    assert torch.equal(a.train, b.train) and torch.equal(a.validation, b.validation)
    assert a.train_sentences == b.train_sentences
    assert not torch.equal(recipes.corpus_data(seed=1).train[:50], a.train[:50])
    d1, d2 = recipes.digits_data(), recipes.digits_data()
    for split in ("train", "validation", "test"):
        assert all(torch.equal(x, y) for x, y in zip(getattr(d1, split).tensors, getattr(d2, split).tensors))
    assert len(d1.validation) == recipes.DIGITS_DATA["n_validation"]
    assert len(d1.train) + len(d1.validation) + len(d1.test) == 1797
    rows = {tuple(r) for s in ("train", "validation", "test") for r in getattr(d1, s).images.flatten(1).tolist()}
    assert len(rows) > 1700, "splits do not share images (a few digits are exact duplicates in the data set)"
    assert all(torch.equal(x, y) for x, y in zip(recipes.induction_batch(3), recipes.induction_batch(3)))
    assert not torch.equal(recipes.induction_batch(3)[0], recipes.induction_batch(4)[0])
    c = recipes.INDUCTION_DATA
    x, y = recipes.induction_batch(3)
    ids, _, _ = repeated_segments(c["batch_size"], c["seq_len"], c["vocab_size"], min_repeat=c["min_repeat"],
                                  max_repeat=c["max_repeat"], seed=3, skip_bigram=c["skip_bigram"])
    assert torch.equal(x, ids[:, :-1]) and torch.equal(y, ids[:, 1:]), "the data module's rows"
    held = recipes.induction_data()
    assert all(torch.equal(a, b) for a, b in zip(held, recipes.induction_data()))
    assert held[0].shape == (c["n_eval"], c["seq_len"])
    assert len(set(held[1].tolist())) > 5 and len(set(held[2].tolist())) > 5, "offsets and lengths vary"


def test_unigram_loss_by_hand():
    train = torch.tensor([0, 0, 1])
    # counts + 1 = (3, 2, 1) over 6
    expected = -(math.log(3 / 6) + math.log(1 / 6)) / 2
    assert unigram_loss(train, torch.tensor([0, 2]), 3) == pytest.approx(expected, abs=1e-12)


TINY = {
    "sentiment_lstm": {"model": {"d_emb": 8, "d_hidden": 8},
                       "data": {"n_train": 64, "n_test": 32, "n_validation": 32},
                       "train": {"epochs": 1, "eval_every": 1, "target": 2.0}},
    "sentiment_transformer": {"model": {"d_model": 8, "n_heads": 2, "n_layers": 1, "d_ff": 16},
                              "data": {"n_train": 64, "n_test": 32, "n_validation": 32},
                              "train": {"epochs": 1, "eval_every": 1, "target": 2.0}},
    "text_cnn": {"model": {"d_emb": 8, "n_filters": 4},
                 "data": {"n_train": 64, "n_test": 32, "n_validation": 32},
                 "train": {"epochs": 1, "eval_every": 1, "target": 2.0}},
    "date_seq2seq": {"model": {"d_emb": 4, "d_hidden": 8},
                     "data": {"n_train": 32, "n_test": 16, "n_validation": 16},
                     "train": {"steps": 3, "eval_every": 2, "target": 2.0}},
    "tiny_gpt": {"model": {"d_model": 8, "n_heads": 2, "n_layers": 1, "d_ff": 16, "max_len": 8},
                 "data": {"n_sentences": 40},
                 "train": {"steps": 3, "eval_every": 2, "block_size": 8, "stride": 8}},
    "induction": {"model": {"vocab_size": 12, "d_model": 8, "n_heads": 2, "max_len": 12},
                  "data": {"vocab_size": 12, "seq_len": 12, "min_repeat": 2, "max_repeat": 4, "batch_size": 4,
                           "n_eval": 8},
                  "train": {"steps": 3, "eval_every": 2, "n_score": 4}},
    "digits_cnn": {"model": {"c1": 2, "c2": 2},
                   "data": {"n_validation": 50},
                   "train": {"epochs": 1, "eval_every": 5, "target": 2.0}},
}


def shrink(name, monkeypatch):
    r = T._REGISTRY[name]
    config = {k: (dict(v, **TINY[name].get(k, {})) if isinstance(v, dict) else v) for k, v in r.config.items()}
    monkeypatch.setitem(T._REGISTRY, name, dataclasses.replace(r, config=config))
    return config


@pytest.mark.parametrize("name", NAMES)
def test_pretrained_round_trip_on_a_shrunken_recipe(name, tmp_path, monkeypatch):
    monkeypatch.setenv(T.CACHE_ENV, str(tmp_path))
    monkeypatch.setenv("LLMXAI_DEVICE", "cpu")
    config = shrink(name, monkeypatch)
    threads = torch.get_num_threads()
    model, info = pretrained(name, return_info=True)
    m = info["metrics"]
    key = bench_training.GOALS[name].key
    assert info["trained"] and info["config"] == config
    assert math.isfinite(m[key]) and m[key] >= 0 and m["seconds"] > 0 and m["steps"] >= 1
    h = m["history"]
    assert len(h["step"]) == len(h["metric"]) >= 1 and len(h["loss"]) == m["steps"]
    assert all(len(v) == len(h["step"]) for k, v in h.items() if k != "loss")
    assert torch.get_num_threads() == threads, "the recipe's one-thread training restores the count"
    again, info2 = pretrained(name, return_info=True)
    assert not info2["trained"] and info2["metrics"] == m
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    _, info3 = pretrained(name, retrain=True, return_info=True)
    assert info3["metrics"]["history"]["loss"] == h["loss"], "training repeats exactly"


def test_recipes_restore_the_thread_count(tmp_path, monkeypatch):
    monkeypatch.setenv(T.CACHE_ENV, str(tmp_path))
    monkeypatch.setenv("LLMXAI_DEVICE", "cpu")
    shrink("sentiment_lstm", monkeypatch)
    before = torch.get_num_threads()
    pretrained("sentiment_lstm")
    assert torch.get_num_threads() == before


def test_measure_uses_a_temporary_cache_and_reports_goals(tmp_path, monkeypatch):
    monkeypatch.setenv(T.CACHE_ENV, str(tmp_path))
    monkeypatch.setenv("LLMXAI_DEVICE", "cpu")
    shrink("sentiment_lstm", monkeypatch)
    (row,) = bench_training.measure(["sentiment_lstm"])
    assert list(tmp_path.iterdir()) == [], "the user's cache is untouched"
    assert row["name"] == "sentiment_lstm" and row["metric"] == "test_accuracy"
    assert row["value"] == row["metrics"]["test_accuracy"] and row["seconds"] > 0
    assert row["met"] == (row["value"] >= 0.97 and row["seconds"] <= 30)


def test_goal_checks():
    g = bench_training.GOALS["sentiment_lstm"]
    assert g.met({"test_accuracy": 0.98, "seconds": 10})
    assert not g.met({"test_accuracy": 0.96, "seconds": 10})
    assert not g.met({"test_accuracy": 0.98, "seconds": 31})
    assert not g.met({"seconds": 1})
    with pytest.raises(ValueError, match="expected one of"):
        bench_training.goal_met("no_such_model", {})


def test_date_scores_on_a_perfect_and_a_broken_model():
    data = recipes.date_data(n_train=8, n_test=8, n_validation=8)

    class Oracle(torch.nn.Module):
        def __init__(self, split, shift=0):
            super().__init__()
            self.p = torch.nn.Parameter(torch.zeros(1))
            self.split, self.shift = split, shift

        def greedy_decode(self, src, max_len, bos, eos, lengths):
            out = self.split.target[:, 1:1 + max_len].clone()
            out[:, 0] += self.shift  # a wrong first character
            return out, None

    assert date_scores(Oracle(data.test), data.test) == (1.0, 1.0)
    exact, chars = date_scores(Oracle(data.test, shift=1), data.test)
    assert exact == 0.0 and chars == pytest.approx(10 / 11)


def test_induction_history_records_the_phase_change_inputs(tmp_path, monkeypatch):
    monkeypatch.setenv(T.CACHE_ENV, str(tmp_path))
    monkeypatch.setenv("LLMXAI_DEVICE", "cpu")
    config = shrink("induction", monkeypatch)
    _, info = pretrained("induction", return_info=True)
    m, h = info["metrics"], info["metrics"]["history"]
    assert h["step"] == [0.0, 2.0, 3.0], "a checkpoint before training, every eval_every steps and at the end"
    n_layers, n_heads = config["model"]["n_layers"], config["model"]["n_heads"]
    for key in ("induction_scores", "previous_token_scores"):
        assert all(torch.tensor(s).shape == (n_layers, n_heads) for s in h[key])
    assert h["induction_score"] == [max(s[-1]) for s in h["induction_scores"]], "best second-layer head"
    assert h["prev_token_score"] == [max(s[0]) for s in h["previous_token_scores"]], "best first-layer head"
    assert h["repeated_ratio"] == pytest.approx([r / f for r, f in zip(h["loss_repeated"], h["loss_first"])])
    assert m["repeated_ratio"] == h["repeated_ratio"][-1] and m["loss_first"] == h["loss_first"][-1]
    assert m["induction_score"] == h["induction_score"][-1] and m["prev_token_score"] == h["prev_token_score"][-1]


def test_induction_goal_needs_both_heads():
    g = bench_training.GOALS["induction"]
    ok = {"repeated_ratio": 0.2, "induction_score": 0.8, "prev_token_score": 0.7, "seconds": 20}
    assert g.met(ok)
    assert not g.met(dict(ok, repeated_ratio=0.31))
    assert not g.met(dict(ok, induction_score=0.4)), "a positional shortcut lowers the loss without the heads"
    assert not g.met(dict(ok, prev_token_score=0.4))
    assert not g.met({k: v for k, v in ok.items() if k != "prev_token_score"})


def test_head_scores_find_the_hand_built_circuit_on_the_recipe_rows():
    from toy_transformer import induction_model

    c = dict(recipes.INDUCTION_DATA, vocab_size=60, seq_len=24, max_repeat=8, n_eval=16)
    ids, starts, lengths = recipes.induction_data(c)
    ind, prev = head_scores(induction_model(V=60), ids, starts, lengths)
    assert ind.shape == prev.shape == (2, 2)
    assert ind[1, 0] > 0.9 and prev[0, 0] > 0.99 and ind[0].max() < 0.2
    second = second_copy(ids, starts, lengths)
    assert second.sum(1).tolist() == lengths.tolist()
    assert all(ids[i, second[i]].tolist() == ids[i, s:s + L].tolist()
               for i, (s, L) in enumerate(zip(starts.tolist(), lengths.tolist())))
