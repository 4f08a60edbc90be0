"""`llmxai train`: names or --all, a clear refusal otherwise, weights into the user's cache."""

import pytest
from torch import nn

from llmxai import cli
from llmxai.pretrained import cache_path, pretrained, register_pretrained, unregister_pretrained


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    monkeypatch.setenv("LLMXAI_CACHE", str(tmp_path))
    monkeypatch.delenv("LLMXAI_SEED_OFFSET", raising=False)
    calls = []
    register_pretrained("cli-test", version="1", build=lambda: nn.Linear(2, 2))(
        lambda m, c, d: calls.append(1) or {"ok": 1.0})
    yield calls
    unregister_pretrained("cli-test")


def test_train_a_named_model_into_the_cache(tiny, capsys):
    cli.main(["train", "cli-test"])
    assert tiny == [1] and cache_path("cli-test").exists()
    assert "cli-test: trained" in capsys.readouterr().out
    cli.main(["train", "cli-test"])
    assert tiny == [1, 1], "train always trains from scratch"
    assert pretrained("cli-test", return_info=True)[1]["source"] == "cache"


@pytest.mark.parametrize("argv, message", [
    (["train"], "expected model names or --all, got neither"),
    (["train", "cli-test", "--all"], "expected model names or --all, got both"),
    (["train", "nope"], "unknown model(s) nope; known models:"),
])
def test_train_refuses_with_one_line(tiny, argv, message):
    with pytest.raises(SystemExit) as err:
        cli.main(argv)
    assert message in str(err.value) and tiny == []


def test_ship_refuses_a_recipe_that_is_not_shipped(tiny):
    with pytest.raises(ValueError, match="expected a recipe of llmxai.recipes to ship"):
        cli.main(["train", "cli-test", "--ship"])
