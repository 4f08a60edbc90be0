"""The planted-shortcut data of the chapter "Explanations in practice" (llmxai.recipes.shortcut_data)."""

import pytest

from llmxai.data import generate_sentiment, sentiment_tokenizer
from llmxai.recipes import SHORTCUT_DATA, SHORTCUT_TOKEN, plant_token, shortcut_data, shortcut_tokenizer


def test_plant_token_puts_the_token_first_with_the_asked_rates():
    examples = generate_sentiment(400, seed=0)
    planted = plant_token(examples, "#tag", 1.0, 0.0, seed=0)
    for before, after in zip(examples, planted):
        assert after.label == before.label
        if before.label == 1:
            assert after.tokens == ("#tag",) + before.tokens
            assert after.rationale == (0,) + before.rationale and after.roles == ("neutral",) + before.roles
        else:
            assert after == before
    half = plant_token(examples, "#tag", 0.5, 0.5, seed=1)
    share = sum(ex.tokens[0] == "#tag" for ex in half) / len(half)
    assert 0.4 < share < 0.6
    assert plant_token(examples, "#tag", 0.5, 0.5, seed=1) == half, "seeded: the same draws again"
    with pytest.raises(ValueError, match="one word"):
        plant_token(examples, "two words", 1.0, 0.0, seed=0)


def test_shortcut_tokenizer_keeps_every_sentiment_id():
    base, tok = sentiment_tokenizer(), shortcut_tokenizer()
    assert tok.vocab_size == base.vocab_size + 1
    text = "the movie was not good ."
    assert tok.encode(text) == base.encode(text)
    assert tok.encode(SHORTCUT_TOKEN) == [base.vocab_size]


def test_shortcut_data_splits_carry_the_stated_correlation():
    data = shortcut_data(n_train=400, n_test=200, n_validation=100)
    tag = data.tokenizer.encode(SHORTCUT_TOKEN)[0]

    def rate(split, label):
        has = (split.ids == tag).any(1)
        return has[split.labels == label].float().mean().item()

    p = SHORTCUT_DATA["p_positive"]
    for split in (data.train, data.validation, data.test):
        assert rate(split, 0) == 0 and abs(rate(split, 1) - p) < 0.08
        assert ((split.ids == tag).nonzero()[:, 1] == 0).all(), "the tag only ever stands first"
    assert rate(data.test_clean, 0) == rate(data.test_clean, 1) == 0
    assert rate(data.test_swapped, 1) == 0 and abs(rate(data.test_swapped, 0) - p) < 0.08
    words = [ex.tokens[1:] if ex.tokens[0] == SHORTCUT_TOKEN else ex.tokens for ex in data.test.examples]
    assert words == [ex.tokens for ex in data.test_clean.examples], "the same sentences in every test version"
    assert (data.test.labels == data.test_clean.labels).all() and (data.test.labels == data.test_swapped.labels).all()
