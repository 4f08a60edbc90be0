"""Synthetic sentiment sentences whose deciding words (the rationale) are known exactly.

The label follows a rule, stated here once and restated independently in the tests:

1. A sentence is one clause ``[opener] det noun verb [negator] [intensifier] adjective
   [closer] .`` or two such clauses joined by ``but``.
2. A clause's polarity is its adjective's (positive or negative word list), flipped when the
   clause holds a negator (``not``, ``never``): "not good" is negative, "never bad" positive.
   This is a rule of the task, not a claim about English, where "not terrible" is weaker
   than "good".
3. With ``but``, the two clauses have opposite polarities and the label is the polarity of
   the clause after ``but``.

The rationale of a sentence is the deciding clause's sentiment phrase: its negator, its
intensifier and its adjective. Everything else (openers, subjects, verbs, closers, ``but``,
the overridden clause, the full stop) is outside it. Each token also carries a role
(``"sentiment"``, ``"negation"``, ``"intensifier"``, ``"contrast"`` or ``"neutral"``) so a
chapter can show, for example, how much credit the overridden clause still receives.
"""

import random
from dataclasses import dataclass

import torch

from llmxai import validate
from llmxai.data.tokenize import Tokenizer, WordTokenizer, pad_batch
from llmxai.device import shift_seed

LABELS = ("negative", "positive")
POSITIVE = ("good", "great", "excellent", "wonderful", "brilliant", "enjoyable",
            "superb", "charming", "delightful", "clever", "moving", "beautiful")
NEGATIVE = ("bad", "terrible", "awful", "boring", "dull", "poor",
            "weak", "horrible", "disappointing", "bland", "tedious", "clumsy")
NEGATORS = ("not", "never")
INTENSIFIERS = ("very", "really", "truly", "extremely", "so")
CONTRAST = "but"
DETERMINERS = ("the", "this", "that")
NOUNS = ("movie", "film", "plot", "story", "acting", "cast", "script", "ending",
         "music", "soundtrack", "dialogue", "pacing", "director", "camera")
VERBS = ("was", "is", "seemed", "felt")
OPENERS = ((), ("i", "think"), ("honestly", ","), ("overall", ","), ("in", "my", "view", ","), ("to", "me", ","))
CLOSERS = ((), ("for", "me"), ("this", "time"), ("from", "start", "to", "finish"), ("in", "my", "opinion"))

ROLES = ("neutral", "sentiment", "negation", "intensifier", "contrast")


def sentiment_vocabulary():
    """Every word the generator can write, sorted (the tokenizer's fixed vocabulary)."""
    words = set(POSITIVE + NEGATIVE + NEGATORS + INTENSIFIERS + DETERMINERS + NOUNS + VERBS)
    words |= {w for part in OPENERS + CLOSERS for w in part}
    words |= {CONTRAST, "."}
    return sorted(words)


WORD_ROLES = ("positive", "negative", "negation", "intensifier", "contrast", "neutral")


def word_role(word):
    """The lexical role of a vocabulary word: one of :data:`WORD_ROLES`.

    Unlike a token's role in a sentence (``ROLES``), this splits sentiment words by
    their own polarity ("good" is positive even inside "not good").
    """
    if not isinstance(word, str):
        raise TypeError(f"word: expected a str, got {type(word).__name__}")
    for role, words in (("positive", POSITIVE), ("negative", NEGATIVE), ("negation", NEGATORS),
                        ("intensifier", INTENSIFIERS), ("contrast", (CONTRAST,))):
        if word in words:
            return role
    if word not in sentiment_vocabulary():
        raise ValueError(f"word: expected a word of the sentiment vocabulary, got {word!r}")
    return "neutral"


def sentiment_tokenizer():
    """The word tokenizer over :func:`sentiment_vocabulary` (same ids for every seed and size)."""
    return WordTokenizer(sentiment_vocabulary())


@dataclass(frozen=True)
class SentimentExample:
    """One sentence: its words, label (1 positive, 0 negative), 0/1 rationale and role per word."""

    tokens: tuple
    label: int
    rationale: tuple
    roles: tuple

    @property
    def text(self):
        return " ".join(self.tokens)

    @property
    def rationale_tokens(self):
        return [t for t, r in zip(self.tokens, self.rationale) if r]


def _clause(rng, polarity, p_negation, p_intensifier):
    """A clause with the given polarity; returns (tokens, roles, index range of its phrase)."""
    tokens = [rng.choice(DETERMINERS), rng.choice(NOUNS), rng.choice(VERBS)]
    roles = ["neutral"] * 3
    negated = rng.random() < p_negation
    if negated:
        tokens.append(rng.choice(NEGATORS))
        roles.append("negation")
    if rng.random() < p_intensifier:
        tokens.append(rng.choice(INTENSIFIERS))
        roles.append("intensifier")
    adjective_positive = bool(polarity) != negated
    tokens.append(rng.choice(POSITIVE if adjective_positive else NEGATIVE))
    roles.append("sentiment")
    return tokens, roles, (3, len(tokens))


def _sentence(rng, p_negation, p_intensifier, p_contrast):
    label = rng.randrange(2)
    tokens = list(rng.choice(OPENERS))
    roles = ["neutral"] * len(tokens)
    if rng.random() < p_contrast:
        first, first_roles, _ = _clause(rng, 1 - label, p_negation, p_intensifier)
        tokens += first + [CONTRAST]
        roles += first_roles + ["contrast"]
    clause, clause_roles, (lo, hi) = _clause(rng, label, p_negation, p_intensifier)
    start = len(tokens)
    tokens += clause
    roles += clause_roles
    closer = list(rng.choice(CLOSERS)) + ["."]
    tokens += closer
    roles += ["neutral"] * len(closer)
    rationale = [int(start + lo <= i < start + hi) for i in range(len(tokens))]
    return SentimentExample(tuple(tokens), label, tuple(rationale), tuple(roles))


def sentence_count(p_negation=0.3, p_intensifier=0.3, p_contrast=0.25):
    """How many distinct sentences the grammar can write at these rates."""
    negations = 1 if p_negation == 0 else len(NEGATORS) + (p_negation < 1)
    intensities = 1 if p_intensifier == 0 else len(INTENSIFIERS) + (p_intensifier < 1)
    # Given the clause polarity and whether it is negated, the adjective list is fixed.
    clause = len(DETERMINERS) * len(NOUNS) * len(VERBS) * negations * intensities * len(POSITIVE)
    bodies = clause * (p_contrast < 1) + clause * clause * (p_contrast > 0)
    return len(LABELS) * len(OPENERS) * len(CLOSERS) * bodies


def generate_sentiment(n, seed=0, *, p_negation=0.3, p_intensifier=0.3, p_contrast=0.25, distinct=True):
    """``n`` sentiment sentences, the same ones for the same ``seed``.

    ``p_negation`` and ``p_intensifier`` are per clause; ``p_contrast`` is the chance of a
    two-clause ``but`` sentence. With ``distinct`` no sentence repeats.
    """
    validate.positive_int(n, "n")
    validate.seed(seed)
    p_negation = validate.probability(p_negation, "p_negation")
    p_intensifier = validate.probability(p_intensifier, "p_intensifier")
    p_contrast = validate.probability(p_contrast, "p_contrast")
    if validate.flag(distinct, "distinct"):
        space = sentence_count(p_negation, p_intensifier, p_contrast)
        # Asking for more than half of all sentences would make rejection sampling crawl
        # (coupon collector); refuse it up front instead.
        if n > space // 2:
            raise ValueError(
                f"n: expected at most {space // 2} distinct sentences (half of the {space} "
                f"the grammar can write at these rates), got {n}"
            )
    rng = random.Random(shift_seed(seed))
    examples, seen = [], set()
    for _ in range(20 * n + 1000):
        ex = _sentence(rng, p_negation, p_intensifier, p_contrast)
        if distinct:
            if ex.tokens in seen:
                continue
            seen.add(ex.tokens)
        examples.append(ex)
        if len(examples) == n:
            return examples
    raise ValueError(f"n: could only generate {len(examples)} distinct sentences at these rates, asked for {n}")


@dataclass
class SentimentSplit:
    """Padded tensors of one split: ids (N, T), lengths (N,), labels (N,), rationale (N, T) bool."""

    ids: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor
    rationale: torch.Tensor
    examples: list

    @property
    def tensors(self):
        """``(ids, lengths, labels)``: the batch tuple that :func:`llmxai.train.fit` takes."""
        return self.ids, self.lengths, self.labels

    def __len__(self):
        return len(self.examples)


@dataclass
class SentimentData:
    train: SentimentSplit
    test: SentimentSplit
    tokenizer: WordTokenizer


def encode_sentiment(examples, tokenizer=None):
    """Pad a list of :class:`SentimentExample` into a :class:`SentimentSplit`."""
    if not isinstance(examples, (list, tuple)) or not examples:
        raise ValueError("examples: expected a non-empty list of SentimentExample")
    for i, ex in enumerate(examples):
        if not isinstance(ex, SentimentExample):
            raise TypeError(f"examples[{i}]: expected a SentimentExample, got {type(ex).__name__}")
    tokenizer = tokenizer or sentiment_tokenizer()
    if not isinstance(tokenizer, Tokenizer):
        raise TypeError(f"tokenizer: expected a llmxai.data Tokenizer, got {type(tokenizer).__name__}")
    ids, lengths = pad_batch([tokenizer.encode(ex.text) for ex in examples])
    T = ids.shape[1]
    rows = [list(ex.rationale) + [0] * (T - len(ex.rationale)) for ex in examples]
    rationale = torch.tensor(rows, dtype=torch.bool)  # (N, T); padding is never rationale
    labels = torch.tensor([ex.label for ex in examples], dtype=torch.long)
    return SentimentSplit(ids, lengths, labels, rationale, list(examples))


def sentiment_dataset(n_train=2000, n_test=500, seed=0, **rates):
    """Train and test splits of distinct sentences (no sentence is in both) and the tokenizer.

    ``rates`` are passed to :func:`generate_sentiment`.
    """
    validate.positive_int(n_train, "n_train")
    validate.positive_int(n_test, "n_test")
    examples = generate_sentiment(n_train + n_test, seed, distinct=True, **rates)
    tokenizer = sentiment_tokenizer()
    return SentimentData(
        train=encode_sentiment(examples[:n_train], tokenizer),
        test=encode_sentiment(examples[n_train:], tokenizer),
        tokenizer=tokenizer,
    )
