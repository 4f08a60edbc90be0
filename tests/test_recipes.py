"""Recipes of the pretrained models: registered, buildable, fed by deterministic data.

No full training here (that is what ``python -m llmxai.bench`` measures); the round trip
through ``pretrained`` runs a recipe's own train function on a shrunken config.
"""

import dataclasses

import pytest
import torch

import llmxai.train as T
from llmxai import recipes
from llmxai.data import tokenizer_from_config
from llmxai.train import known_pretrained, pretrained

NAMES = ["sentiment_lstm", "sentiment_transformer", "date_seq2seq"]


def test_every_recipe_is_registered_with_a_goal():
    known = set(known_pretrained())
    assert set(NAMES) <= known
    assert set(NAMES) <= set(recipes.GOALS)


def _batch(name, data):
    if name.startswith("sentiment"):
        ids, lengths, labels = data.test.tensors
        return (ids[:5], lengths[:5]), (5, 2)
    if name == "date_seq2seq":
        src, lengths, tgt = data.test.tensors
        return (src[:5], tgt[:5, :-1], lengths[:5]), (5, tgt.shape[1] - 1, data.tokenizer.vocab_size)
    raise AssertionError(name)


DATA = {"sentiment_lstm": recipes.sentiment_data, "sentiment_transformer": recipes.sentiment_data,
        "date_seq2seq": recipes.date_data}


@pytest.mark.parametrize("name", NAMES)
def test_each_recipe_builds_and_runs_on_its_data(name):
    r = T._REGISTRY[name]
    torch.manual_seed(0)
    model = r.build(**r.config)
    data = DATA[name](**r.config["data"])
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


TINY = {
    "sentiment_lstm": {"model": {"d_emb": 8, "d_hidden": 8},
                       "data": {"n_train": 64, "n_test": 32, "n_validation": 32},
                       "train": {"epochs": 1, "eval_every": 1, "target": 2.0}},
    "sentiment_transformer": {"model": {"d_model": 8, "n_heads": 2, "n_layers": 1, "d_ff": 16},
                              "data": {"n_train": 64, "n_test": 32, "n_validation": 32},
                              "train": {"epochs": 1, "eval_every": 1, "target": 2.0}},
    "date_seq2seq": {"model": {"d_emb": 4, "d_hidden": 8},
                     "data": {"n_train": 32, "n_test": 16, "n_validation": 16},
                     "train": {"steps": 3, "eval_every": 2, "target": 2.0}},
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
    model, info = pretrained(name, return_info=True)
    m = info["metrics"]
    key = recipes.GOALS[name].key
    assert info["trained"] and info["config"] == config
    assert 0.0 <= m[key] <= 1.0 and m["seconds"] > 0 and m["steps"] >= 1
    h = m["history"]
    assert len(h["step"]) == len(h["metric"]) >= 1 and len(h["loss"]) == m["steps"]
    assert torch.get_num_threads() >= 1
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
    (row,) = recipes.measure(["sentiment_lstm"])
    assert list(tmp_path.iterdir()) == [], "the user's cache is untouched"
    assert row["name"] == "sentiment_lstm" and row["metric"] == "test_accuracy"
    assert row["value"] == row["metrics"]["test_accuracy"] and row["seconds"] > 0
    assert row["met"] == (row["value"] >= 0.97 and row["seconds"] <= 30)


def test_goal_checks():
    g = recipes.GOALS["sentiment_lstm"]
    assert g.met({"test_accuracy": 0.98, "seconds": 10})
    assert not g.met({"test_accuracy": 0.96, "seconds": 10})
    assert not g.met({"test_accuracy": 0.98, "seconds": 31})
    assert not g.met({"seconds": 1})
    with pytest.raises(ValueError, match="expected one of"):
        recipes.goal_met("no_such_model", {})


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

    assert recipes.date_scores(Oracle(data.test), data.test) == (1.0, 1.0)
    exact, chars = recipes.date_scores(Oracle(data.test, shift=1), data.test)
    assert exact == 0.0 and chars == pytest.approx(10 / 11)
