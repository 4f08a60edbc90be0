import pytest

from llmxai.data import generate_sentences, is_grammatical


def test_every_generated_sentence_is_grammatical():
    assert all(is_grammatical(s) for s in generate_sentences(2000, seed=3))


@pytest.mark.parametrize("sentence", [
    "the keys near the door are old .",        # 'door' is not in the vocabulary
    "the keys near the box is old .",          # verb agrees with the attractor, not the head
    "the key near the boxes are heavy .",
    "a keys sleep .",                          # determiner and noun disagree
    "these key sleeps .",
    "the cat sees .",                          # transitive verb without object
    "the cat sleeps the dog .",                # intransitive verb with object
    "the cat is .",
    "the cat is heavy",                        # no full stop
    "the cat is heavy . the",
    "the cat near sleeps .",
    "cat sleeps .",
    "",
])
def test_ungrammatical_sentences_are_rejected(sentence):
    assert not is_grammatical(sentence)


@pytest.mark.parametrize("sentence", [
    "the key near the boxes is heavy .",
    "many children behind a robot see the cat .",
    "every bird sings .",
])
def test_hand_written_grammatical_sentences(sentence):
    assert is_grammatical(sentence)


def test_bad_input():
    with pytest.raises(TypeError, match="expected a str"):
        is_grammatical(["the", "cat", "sleeps", "."])
