import pytest
import torch

from llmxai.data import agreement_dataset, corpus_tokenizer
from llmxai.data.corpus import generate_sentences

# The agreement rule restated independently of llmxai.data.agreement.
SINGULAR_NOUNS = {"cat", "dog", "bird", "child", "teacher", "farmer", "robot", "key", "box", "garden", "river",
                  "window", "book", "student"}
PLURAL_NOUNS = {"cats", "dogs", "birds", "children", "teachers", "farmers", "robots", "keys", "boxes", "gardens",
                "rivers", "windows", "books", "students"}
SINGULAR_VERBS = {"is", "sleeps", "runs", "sings", "waits", "falls", "sees", "likes", "finds", "follows", "opens"}
PLURAL_VERBS = {"are", "sleep", "run", "sing", "wait", "fall", "see", "like", "find", "follow", "open"}


def agrees(sentence):
    words = sentence.split()
    subject_plural = words[1] in PLURAL_NOUNS
    assert words[1] in SINGULAR_NOUNS | PLURAL_NOUNS
    verb = next(w for w in words if w in SINGULAR_VERBS | PLURAL_VERBS)
    return subject_plural == (verb in PLURAL_VERBS)


def test_labels_follow_the_agreement_rule_and_are_balanced():
    data = agreement_dataset(40, 30, seed=3)
    for split, n in ((data.train, 40), (data.test, 30)):
        assert len(split) == n and int(split.labels.sum()) == n // 2
        assert [int(agrees(s)) for s in split.sentences] == split.labels.tolist()
        for s, row, length in zip(split.sentences, split.ids, split.lengths):
            assert corpus_tokenizer().decode(row[:length].tolist()) == s and row[length:].eq(0).all()
    assert not set(data.train.sentences) & set(data.test.sentences)


def test_only_the_verb_changes_and_attractors_are_marked():
    data = agreement_dataset(60, 10, seed=1)
    originals = list(dict.fromkeys(generate_sentences(2 * 70 + 100, 1)))[:60]
    for original, s, attractor in zip(originals, data.train.sentences, data.train.attractor):
        a, b = original.split(), s.split()
        changed = [i for i in range(len(a)) if a[i] != b[i]]
        assert len(a) == len(b) and len(changed) <= 1
        if changed:
            assert a[changed[0]] in SINGULAR_VERBS | PLURAL_VERBS and not agrees(s)
        has_pp = b[2] in {"near", "behind", "with", "under", "beside"}
        assert bool(attractor) == (has_pp and (b[1] in PLURAL_NOUNS) != (b[4] in PLURAL_NOUNS))
    assert data.train.attractor.any() and not data.train.attractor.all()


def test_seeded():
    a, b, c = agreement_dataset(20, 5, seed=0), agreement_dataset(20, 5, seed=0), agreement_dataset(20, 5, seed=1)
    assert a.train.sentences == b.train.sentences and torch.equal(a.train.ids, b.train.ids)
    assert a.train.sentences != c.train.sentences


@pytest.mark.parametrize("kwargs, error", [
    (dict(n_train=1), ValueError), (dict(n_test=0), ValueError), (dict(seed=-1), ValueError),
    (dict(n_train=2.5), TypeError),
])
def test_bad_input(kwargs, error):
    with pytest.raises(error, match="expected"):
        agreement_dataset(**kwargs)
