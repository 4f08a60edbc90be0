"""Grammatical and ungrammatical sentences of the generated corpus: subject-verb agreement judgements.

A miniature of acceptability-judgement tasks such as CoLA (Warstadt, Singh and Bowman 2019,
"Neural Network Acceptability Judgments", TACL, doi:10.1162/tacl_a_00290), built on the grammar
of :mod:`llmxai.data.corpus`, where the verb agrees in number with the subject's head noun
(Linzen, Dupoux and Goldberg 2016, arXiv:1611.01368). In a random half of the sentences the
main verb keeps its number (label 1, grammatical); in the other half it is flipped
("the keys near the door is old .", label 0). A sentence has an *attractor* when its
prepositional phrase holds a noun of the other number than the subject: the hard cases.
"""

import random
from dataclasses import dataclass

import torch

from llmxai import validate
from llmxai.data.corpus import COPULA, INTRANSITIVE, NOUNS, PREPOSITIONS, TRANSITIVE, corpus_tokenizer, \
    generate_sentences
from llmxai.data.tokenize import pad_batch
from llmxai.device import shift_seed

_SINGULAR_TO_PLURAL = {COPULA["singular"]: COPULA["plural"]}
for _table in (INTRANSITIVE, TRANSITIVE):
    _SINGULAR_TO_PLURAL.update(zip(_table["singular"], _table["plural"]))
FLIP_VERB = {**_SINGULAR_TO_PLURAL, **{p: s for s, p in _SINGULAR_TO_PLURAL.items()}}
LABELS = ("ungrammatical", "grammatical")


def _plural(noun):
    return noun in NOUNS.values()


@dataclass
class AgreementSplit:
    """Padded ids (N, T), lengths (N,), labels (N,) (1 grammatical), attractor (N,) bool, and the sentences."""

    ids: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor
    attractor: torch.Tensor
    sentences: list

    @property
    def tensors(self):
        """``(ids, lengths, labels)``: the batch tuple that :func:`llmxai.train.fit` takes."""
        return self.ids, self.lengths, self.labels

    def __len__(self):
        return len(self.sentences)


@dataclass
class AgreementData:
    train: AgreementSplit
    test: AgreementSplit
    tokenizer: object


def _split(sentences, rng, tokenizer):
    n = len(sentences)
    grammatical = set(rng.sample(range(n), n // 2))
    out, labels, attractor = [], [], []
    for i, s in enumerate(sentences):
        words = s.split()
        verb = next(j for j, w in enumerate(words) if w in FLIP_VERB)
        if i not in grammatical:
            words[verb] = FLIP_VERB[words[verb]]
        out.append(" ".join(words))
        labels.append(int(i in grammatical))
        attractor.append(words[2] in PREPOSITIONS and _plural(words[1]) != _plural(words[4]))
    ids, lengths = pad_batch([tokenizer.encode(s) for s in out])
    return AgreementSplit(ids, lengths, torch.tensor(labels), torch.tensor(attractor), out)


def agreement_dataset(n_train=256, n_test=500, seed=0):
    """Train and test splits of distinct corpus sentences (none in both), half of each with its verb's
    number flipped, and the corpus word tokenizer."""
    validate.positive_int(n_train, "n_train", minimum=2)
    validate.positive_int(n_test, "n_test", minimum=2)
    validate.seed(seed)
    n = n_train + n_test
    sentences = list(dict.fromkeys(generate_sentences(2 * n + 100, seed)))[:n]  # distinct, in order
    if len(sentences) < n:
        raise ValueError(f"n_train + n_test: the grammar gave only {len(sentences)} distinct sentences, asked for {n}")
    rng = random.Random(shift_seed(seed))
    tokenizer = corpus_tokenizer("word")
    return AgreementData(_split(sentences[:n_train], rng, tokenizer), _split(sentences[n_train:], rng, tokenizer),
                         tokenizer)
