"""A generated corpus of simple English sentences for a tiny language model.

The grammar is small but has structure a model must learn and an explanation can find:
the verb agrees in number with the subject's head noun, even across a prepositional
phrase whose noun has the other number ("the keys near the door are ..."), the classic
test of subject-verb agreement (Linzen, Dupoux and Goldberg 2016, arXiv:1611.01368).

    sentence    -> subject verb_phrase "."
    subject     -> det noun [preposition det noun]
    verb_phrase -> intransitive | transitive det noun | copula adjective

Every word is written by the generator, so nothing is copied from any text.
"""

import random
from dataclasses import dataclass

import torch

from llmxai import validate
from llmxai.data.tokenize import CharTokenizer, WordTokenizer
from llmxai.device import shift_seed

NOUNS = {  # singular -> plural
    "cat": "cats", "dog": "dogs", "bird": "birds", "child": "children", "teacher": "teachers",
    "farmer": "farmers", "robot": "robots", "key": "keys", "box": "boxes", "garden": "gardens",
    "river": "rivers", "window": "windows", "book": "books", "student": "students",
}
DETERMINERS = {"singular": ("the", "a", "this", "every"), "plural": ("the", "these", "some", "many")}
PREPOSITIONS = ("near", "behind", "with", "under", "beside")
INTRANSITIVE = {"singular": ("sleeps", "runs", "sings", "waits", "falls"),
                "plural": ("sleep", "run", "sing", "wait", "fall")}
TRANSITIVE = {"singular": ("sees", "likes", "finds", "follows", "opens"),
              "plural": ("see", "like", "find", "follow", "open")}
COPULA = {"singular": "is", "plural": "are"}
ADJECTIVES = ("small", "quiet", "old", "happy", "green", "heavy", "bright", "slow")


def _noun_phrase(rng, number):
    noun = rng.choice(sorted(NOUNS))
    return [rng.choice(DETERMINERS[number]), noun if number == "singular" else NOUNS[noun]]


def _sentence(rng, p_prepositional):
    number = rng.choice(("singular", "plural"))
    words = _noun_phrase(rng, number)
    if rng.random() < p_prepositional:
        words += [rng.choice(PREPOSITIONS)] + _noun_phrase(rng, rng.choice(("singular", "plural")))
    kind = rng.randrange(3)
    if kind == 0:
        words.append(rng.choice(INTRANSITIVE[number]))
    elif kind == 1:
        words += [rng.choice(TRANSITIVE[number])] + _noun_phrase(rng, rng.choice(("singular", "plural")))
    else:
        words += [COPULA[number], rng.choice(ADJECTIVES)]
    return words + ["."]


def generate_sentences(n, seed=0, *, p_prepositional=0.4):
    """``n`` sentences (each a str of space-separated words ending in " .")."""
    validate.positive_int(n, "n")
    validate.seed(seed)
    p_prepositional = validate.probability(p_prepositional, "p_prepositional")
    rng = random.Random(shift_seed(seed))
    return [" ".join(_sentence(rng, p_prepositional)) for _ in range(n)]


def _parse_noun_phrase(words, i):
    """Number ("singular" or "plural") of the noun phrase at ``words[i:i + 2]``, or None."""
    if i + 1 >= len(words):
        return None
    det, noun = words[i], words[i + 1]
    number = "singular" if noun in NOUNS else "plural" if noun in NOUNS.values() else None
    return number if number and det in DETERMINERS[number] else None


def is_grammatical(sentence):
    """Whether ``sentence`` (words separated by spaces, ending in ".") is one the grammar can write.

    Checks the rules of the module docstring, including agreement of the determiner with its
    noun and of the verb with the subject's head noun (not with the noun after a preposition).
    """
    if not isinstance(sentence, str):
        raise TypeError(f"sentence: expected a str, got {type(sentence).__name__}")
    words = sentence.split()
    number = _parse_noun_phrase(words, 0)
    if number is None:
        return False
    i = 2
    if i < len(words) and words[i] in PREPOSITIONS:
        if _parse_noun_phrase(words, i + 1) is None:
            return False
        i += 3
    rest = words[i:]
    if len(rest) == 2:
        ok = rest[0] in INTRANSITIVE[number]
    elif len(rest) == 3:
        ok = rest[0] == COPULA[number] and rest[1] in ADJECTIVES
    elif len(rest) == 4:
        ok = rest[0] in TRANSITIVE[number] and _parse_noun_phrase(rest, 1) is not None
    else:
        ok = False
    return ok and rest[-1] == "."


def corpus_vocabulary():
    """Every word the grammar can write, sorted."""
    words = set(NOUNS) | set(NOUNS.values()) | set(PREPOSITIONS) | set(ADJECTIVES) | {".", "is", "are"}
    for table in (DETERMINERS, INTRANSITIVE, TRANSITIVE):
        for group in table.values():
            words |= set(group)
    return sorted(words)


def corpus_tokenizer(level="word"):
    """Word tokenizer over :func:`corpus_vocabulary`, or character tokenizer over its letters."""
    validate.choice(level, "level", ("word", "char"))
    words = corpus_vocabulary()
    if level == "word":
        return WordTokenizer(words)
    return CharTokenizer(sorted(set("".join(words)) | {" "}))


@dataclass
class Corpus:
    """Token streams (1-D long) for training and validation, and the text they came from."""

    train: torch.Tensor
    validation: torch.Tensor
    tokenizer: object
    train_sentences: list
    validation_sentences: list


def language_corpus(n_sentences=3000, seed=0, *, level="word", validation_fraction=0.1):
    """Generated sentences split into train and validation streams of ids.

    Sentences are split before concatenation, so none straddles the two streams; within a
    stream they are joined by spaces (the full stop marks sentence ends). Validation
    sentences may coincide with training ones: the grammar is small and a repeated short
    sentence is what a real corpus has too; the validation loss then still measures how
    well the model learned the distribution.
    """
    validate.positive_int(n_sentences, "n_sentences", minimum=2)
    if isinstance(validation_fraction, bool) or not isinstance(validation_fraction, (int, float)) \
            or not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction: expected a number in (0, 1), got {validation_fraction!r}")
    tokenizer = corpus_tokenizer(level)
    sentences = generate_sentences(n_sentences, seed)
    n_val = min(max(1, round(n_sentences * validation_fraction)), n_sentences - 1)
    train_s, val_s = sentences[:-n_val], sentences[-n_val:]

    def stream(ss):
        return torch.tensor(tokenizer.encode(" ".join(ss)), dtype=torch.long)

    return Corpus(stream(train_s), stream(val_s), tokenizer, train_s, val_s)


def next_token_windows(stream, block_size, *, stride=None):
    """Cut a 1-D id stream into ``(inputs (N, block_size), targets (N, block_size))``.

    ``targets`` is ``inputs`` shifted left by one token. Windows start every ``stride``
    tokens (default ``block_size``: non-overlapping); a short tail is dropped.
    """
    validate.tensor(stream, "stream", ndim=1, floating=False)
    validate.positive_int(block_size, "block_size")
    stride = block_size if stride is None else validate.positive_int(stride, "stride")
    if stream.numel() < block_size + 1:
        raise ValueError(f"stream: expected at least block_size + 1 = {block_size + 1} tokens, got {stream.numel()}")
    windows = stream.unfold(0, block_size + 1, stride)  # (N, block_size + 1)
    return windows[:, :-1].contiguous(), windows[:, 1:].contiguous()


def unigram_loss(train, validation, vocab_size):
    """Cross-entropy (nats) of ``validation`` ids under add-one-smoothed unigram frequencies of ``train``."""
    counts = torch.bincount(train, minlength=vocab_size).double() + 1.0  # (V,)
    return float(-(counts / counts.sum()).log()[validation].mean())
