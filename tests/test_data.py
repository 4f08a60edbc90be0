import datetime
import random
import re

import pytest
import torch

from llmxai.data import (
    BOS_ID,
    DATE_FORMATS,
    EOS_ID,
    PAD_ID,
    SPECIAL_TOKENS,
    UNK_ID,
    CharTokenizer,
    WordTokenizer,
    corpus_tokenizer,
    date_dataset,
    digits_dataset,
    format_date,
    generate_dates,
    generate_sentences,
    generate_sentiment,
    induction_masks,
    repeated_segments,
    segment_masks,
    language_corpus,
    next_token_batch,
    next_token_windows,
    ordinal,
    pad_batch,
    repeated_tokens,
    sentiment_dataset,
    sentiment_vocabulary,
    tokenizer_from_config,
)
from llmxai.data import corpus as corpus_mod
from llmxai.data import sentiment as sent_mod

# --- tokenizers ---------------------------------------------------------------------------

ALPHABET = "abcdefghijklmnopqrstuvwxyzABC0123456789 .,;:!?'-\n\téüßλ中"


def random_text(rng, alphabet, max_len=40):
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, max_len)))


def test_special_ids_are_fixed():
    for tok in (CharTokenizer("xyz"), WordTokenizer(["hello", "world"])):
        assert [tok.token_to_id[t] for t in SPECIAL_TOKENS] == [0, 1, 2, 3]
        assert (tok.pad_id, tok.unk_id, tok.bos_id, tok.eos_id) == (PAD_ID, UNK_ID, BOS_ID, EOS_ID) == (0, 1, 2, 3)


def test_from_corpus_does_not_depend_on_order_and_counts():
    a = CharTokenizer.from_corpus(["banana", "cab"])
    b = CharTokenizer.from_corpus(["cab", "banana"])
    assert a == b and a.symbols == ("a", "b", "c", "n")
    w = WordTokenizer.from_corpus(["the cat the dog", "the cat"], min_count=2)
    assert w.symbols == ("cat", "the")
    assert WordTokenizer.from_corpus("x y y z z z", max_size=2).symbols == ("y", "z")


@pytest.mark.parametrize("seed", range(25))
def test_char_round_trip_on_generated_strings(seed):
    rng = random.Random(seed)
    alphabet = "".join(rng.sample(ALPHABET, 20))
    tok = CharTokenizer.from_corpus([alphabet])
    for _ in range(20):
        text = random_text(rng, alphabet)
        ids = tok.encode(text, add_bos=True, add_eos=True)
        assert UNK_ID not in ids
        assert ids[0] == BOS_ID and ids[-1] == EOS_ID and len(ids) == len(text) + 2
        assert tok.decode(ids) == text
        assert tok.decode(torch.tensor(ids)) == text


@pytest.mark.parametrize("seed", range(25))
def test_word_round_trip_on_generated_strings(seed):
    rng = random.Random(seed)
    words = sorted({random_text(rng, "abcxyz.,!'é", 8).strip() or "w" for _ in range(30)})
    words = [w for w in words if w]
    tok = WordTokenizer(words)
    for _ in range(20):
        chosen = [rng.choice(words) for _ in range(rng.randrange(0, 12))]
        text = "".join(w + rng.choice([" ", "  ", "\t", "\n "]) for w in chosen)
        assert tok.decode(tok.encode(text)) == " ".join(chosen)
        assert tok.decode(tok.encode(" ".join(chosen))) == " ".join(chosen)


def test_out_of_vocabulary_becomes_unk_and_stays_visible():
    tok = CharTokenizer("abc")
    assert tok.encode("abz") == [tok.token_to_id["a"], tok.token_to_id["b"], UNK_ID]
    assert tok.decode(tok.encode("abz")) == "ab<unk>"
    w = WordTokenizer(["good", "movie"])
    assert w.encode("good film") == [w.token_to_id["good"], UNK_ID]
    assert w.decode(w.encode("good film")) == "good <unk>"


def test_decode_skips_pad_bos_eos_only_when_asked():
    tok = WordTokenizer(["a", "b"])
    ids = [BOS_ID, tok.token_to_id["a"], tok.token_to_id["b"], EOS_ID, PAD_ID, PAD_ID]
    assert tok.decode(ids) == "a b"
    assert tok.decode(ids, skip_special=False) == "<bos> a b <eos> <pad> <pad>"
    assert tok.tokens(ids[:3]) == ["<bos>", "a", "b"]


def test_config_round_trip():
    for tok in (CharTokenizer("help"), WordTokenizer(["x", "yy"])):
        again = tokenizer_from_config(tok.to_config())
        assert again == tok and type(again) is type(tok)
    assert CharTokenizer("ab") != WordTokenizer(["a", "b"])


def test_encode_batch_pads():
    tok = CharTokenizer("abc")
    ids, lengths = tok.encode_batch(["ab", "c", "abca"], add_eos=True)
    assert ids.shape == (3, 5) and ids.dtype == torch.long
    assert lengths.tolist() == [3, 2, 5]
    assert [tok.decode(row[:n]) for row, n in zip(ids, lengths)] == ["ab", "c", "abca"]


def test_pad_batch_values():
    ids, lengths = pad_batch([[5, 6, 7], [8], torch.tensor([9, 9])], pad_id=0)
    assert torch.equal(ids, torch.tensor([[5, 6, 7], [8, 0, 0], [9, 9, 0]]))
    assert torch.equal(lengths, torch.tensor([3, 1, 2]))
    assert lengths.dtype == torch.long
    ids, _ = pad_batch([[1], [1, 2]], pad_id=-1)
    assert ids.tolist() == [[1, -1], [1, 2]]


@pytest.mark.parametrize("bad, err", [
    (lambda: CharTokenizer(["ab"]), ValueError),
    (lambda: CharTokenizer(["a", "a"]), ValueError),
    (lambda: CharTokenizer(["<pad>", "a"]), ValueError),
    (lambda: WordTokenizer(["two words"]), ValueError),
    (lambda: WordTokenizer([""]), ValueError),
    (lambda: WordTokenizer("hello"), TypeError),
    (lambda: WordTokenizer.from_corpus(["a", 3]), TypeError),
    (lambda: CharTokenizer.from_corpus("abc", min_count=0), ValueError),
    (lambda: CharTokenizer("ab").encode(["a"]), TypeError),
    (lambda: CharTokenizer("ab").decode([0, 99]), ValueError),
    (lambda: CharTokenizer("ab").decode([-1]), ValueError),
    (lambda: CharTokenizer("ab").decode([1.0]), TypeError),
    (lambda: CharTokenizer("ab").decode(torch.zeros(2, 2, dtype=torch.long)), ValueError),
    (lambda: CharTokenizer("ab").decode(torch.zeros(2)), TypeError),
    (lambda: CharTokenizer("ab").encode_batch("ab"), TypeError),
    (lambda: pad_batch([]), ValueError),
    (lambda: pad_batch([[1], []]), ValueError),
    (lambda: pad_batch([[1.5]]), TypeError),
    (lambda: pad_batch(torch.ones(2, 2, dtype=torch.long)), TypeError),
    (lambda: tokenizer_from_config({"kind": "byte", "symbols": []}), ValueError),
])
def test_tokenizer_bad_input(bad, err):
    with pytest.raises(err, match="expected"):
        bad()


# --- sentiment ----------------------------------------------------------------------------

def rule(tokens):
    """The label rule restated from the module docstring, written without the generator."""
    clause = tokens
    if "but" in tokens:
        clause = tokens[tokens.index("but") + 1:]
    adjectives = [t for t in clause if t in sent_mod.POSITIVE or t in sent_mod.NEGATIVE]
    assert len(adjectives) == 1
    negated = any(t in ("not", "never") for t in clause)
    label = int((adjectives[0] in sent_mod.POSITIVE) != negated)
    start = len(tokens) - len(clause)
    phrase = set(sent_mod.POSITIVE + sent_mod.NEGATIVE + ("not", "never") + sent_mod.INTENSIFIERS)
    rationale = [int(i >= start and t in phrase) for i, t in enumerate(tokens)]
    return label, rationale


def test_lexicon_roles_are_disjoint():
    groups = [set(sent_mod.POSITIVE), set(sent_mod.NEGATIVE), set(sent_mod.NEGATORS),
              set(sent_mod.INTENSIFIERS), {sent_mod.CONTRAST},
              set(sent_mod.DETERMINERS) | set(sent_mod.NOUNS) | set(sent_mod.VERBS)
              | {w for p in sent_mod.OPENERS + sent_mod.CLOSERS for w in p}]
    for i in range(len(groups)):
        for j in range(i + 1, len(groups)):
            assert not groups[i] & groups[j], (i, j, groups[i] & groups[j])


def test_labels_and_rationales_follow_the_rule():
    examples = generate_sentiment(3000, seed=1)
    kinds = {"plain": 0, "negated": 0, "intensified": 0, "contrast": 0}
    for ex in examples:
        label, rationale = rule(list(ex.tokens))
        assert ex.label == label, ex.text
        assert list(ex.rationale) == rationale, ex.text
        assert len(ex.roles) == len(ex.tokens) == len(ex.rationale)
        assert ex.tokens[-1] == "."
        kinds["contrast"] += "but" in ex.tokens
        kinds["negated"] += "negation" in ex.roles
        kinds["intensified"] += "intensifier" in ex.roles
        kinds["plain"] += set(ex.roles) == {"neutral", "sentiment"}
        if "but" in ex.tokens:
            first = list(ex.tokens[: ex.tokens.index("but")]) + ["."]
            assert rule(first)[0] == 1 - ex.label, "the clauses of a contrast must disagree"
    assert all(v > 200 for v in kinds.values()), kinds
    assert 0.45 < sum(ex.label for ex in examples) / len(examples) < 0.55


def test_specific_sentences_by_hand():
    # The rule on a few sentences written out, checked by the same function the data uses.
    assert rule("the film was not good .".split()) == (0, [0, 0, 0, 1, 1, 0])
    assert rule("the plot was really bad but the cast was great .".split()) == (1, [0] * 9 + [1, 0])
    assert rule("the plot was bad but the cast was not very great .".split())[0] == 0


def test_sentiment_dataset_tensors():
    data = sentiment_dataset(400, 100, seed=3)
    tok = data.tokenizer
    assert tok.symbols == tuple(sentiment_vocabulary())
    for split, n in ((data.train, 400), (data.test, 100)):
        assert len(split) == n
        assert split.ids.shape == split.rationale.shape and split.ids.dtype == torch.long
        assert split.rationale.dtype == torch.bool and split.labels.dtype == torch.long
        assert int(split.lengths.max()) == split.ids.shape[1]
        for row, length, label, mask, ex in zip(split.ids, split.lengths, split.labels, split.rationale, split.examples):
            assert tok.decode(row) == ex.text
            assert UNK_ID not in row.tolist()
            assert (row[length:] == PAD_ID).all() and not mask[length:].any()
            assert mask[:length].long().tolist() == list(ex.rationale)
            assert int(label) == ex.label
    assert tuple(t is s for t, s in zip(data.train.tensors, (data.train.ids, data.train.lengths, data.train.labels)))


def test_sentiment_train_and_test_share_no_sentence():
    data = sentiment_dataset(2000, 500, seed=0)
    train = {ex.tokens for ex in data.train.examples}
    test = {ex.tokens for ex in data.test.examples}
    assert len(train) == 2000 and len(test) == 500 and not train & test


def test_sentiment_is_deterministic_per_seed():
    a, b, c = (sentiment_dataset(200, 50, seed=s) for s in (7, 7, 8))
    assert torch.equal(a.train.ids, b.train.ids) and torch.equal(a.test.rationale, b.test.rationale)
    assert not torch.equal(a.train.ids[:, :5], c.train.ids[:, :5])


def test_sentiment_rates_are_respected():
    ex = generate_sentiment(300, seed=0, p_negation=0.0, p_intensifier=1.0, p_contrast=0.0)
    assert all("not" not in e.tokens and "never" not in e.tokens and "but" not in e.tokens for e in ex)
    assert all("intensifier" in e.roles for e in ex)


@pytest.mark.parametrize("bad, err", [
    (lambda: generate_sentiment(0), ValueError),
    (lambda: generate_sentiment(10, seed=-1), ValueError),
    (lambda: generate_sentiment(10, seed=1.5), TypeError),
    (lambda: generate_sentiment(10, seed=True), TypeError),
    (lambda: generate_sentiment(10, p_negation=1.5), ValueError),
    (lambda: sentiment_dataset(0, 10), ValueError),
    (lambda: sentiment_dataset(10, -1), ValueError),
    (lambda: sentiment_dataset(10, 10, seed="0"), TypeError),
    (lambda: generate_sentiment(10 ** 6, p_negation=0, p_intensifier=0, p_contrast=0), ValueError),
])
def test_sentiment_bad_input(bad, err):
    with pytest.raises(err, match="expected|could only"):
        bad()


# --- dates --------------------------------------------------------------------------------

STRPTIME = {
    "ordinal_of": "%d of %B %Y", "month_day_comma": "%B %d, %Y", "month_ordinal_comma": "%B %d, %Y",
    "day_month_year": "%d %B %Y", "day_mon_yy": "%d %b %y", "mon_day_year": "%b %d %Y",
    "dd_mon_yyyy": "%d-%b-%Y", "dd/mm/yyyy": "%d/%m/%Y", "d.m.yyyy": "%d.%m.%Y",
    "lower_day_month_year": "%d %B %Y", "the_ordinal_of": "the %d of %B, %Y",
}


def oracle(source, style):
    """Parse a source with the standard library (after removing ordinal suffixes)."""
    plain = re.sub(r"(\d+)(st|nd|rd|th)\b", r"\1", source)
    date = datetime.datetime.strptime(plain, STRPTIME[style]).date()
    if style == "day_mon_yy" and date.year >= 2050:
        date = date.replace(year=date.year - 100)  # the module's century convention: 50-99 -> 1900s
    return date


def test_every_style_has_an_oracle():
    assert set(STRPTIME) == set(DATE_FORMATS)


def test_date_targets_match_the_standard_library_parse():
    examples = generate_dates(3000, seed=0)
    assert {ex.style for ex in examples} == set(DATE_FORMATS)
    for ex in examples:
        assert oracle(ex.source, ex.style) == ex.date
        assert ex.target == ex.date.isoformat() and len(ex.target) == 10


def test_named_examples():
    d = datetime.date(2021, 3, 3)
    assert format_date(d, "ordinal_of") == "3rd of March 2021"
    assert format_date(d, "month_day_comma") == "March 3, 2021"
    assert format_date(d, "dd/mm/yyyy") == "03/03/2021"
    assert format_date(d, "day_mon_yy") == "3 Mar 21"
    assert format_date(datetime.date(1962, 11, 12), "day_mon_yy") == "12 Nov 62"
    assert [ordinal(k) for k in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 31)] == \
        ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "31st"]


def test_date_dataset_tensors_and_split():
    data = date_dataset(800, 200, seed=2)
    tok = data.tokenizer
    for split in (data.train, data.test):
        assert split.target.shape == (len(split), 12)
        assert (split.target[:, 0] == BOS_ID).all() and (split.target[:, -1] == EOS_ID).all()
        for row, n, tgt, ex in zip(split.source, split.source_lengths, split.target, split.examples):
            assert tok.decode(row[:n], skip_special=False) == ex.source
            assert tok.decode(tgt) == ex.target
            assert UNK_ID not in row.tolist()
    assert not {ex.date for ex in data.train.examples} & {ex.date for ex in data.test.examples}
    again = date_dataset(800, 200, seed=2)
    assert torch.equal(again.train.source, data.train.source)
    assert not torch.equal(date_dataset(800, 200, seed=3).train.target, data.train.target)


@pytest.mark.parametrize("bad, err", [
    (lambda: generate_dates(0), ValueError),
    (lambda: generate_dates(40000), ValueError),
    (lambda: generate_dates(5, styles=["klingon"]), ValueError),
    (lambda: generate_dates(5, styles=[]), ValueError),
    (lambda: generate_dates(5, seed=-3), ValueError),
    (lambda: format_date("2021-03-03", "ordinal_of"), TypeError),
    (lambda: format_date(datetime.date(1900, 1, 1), "ordinal_of"), ValueError),
    (lambda: ordinal(0), ValueError),
    (lambda: date_dataset(10, 0), ValueError),
])
def test_dates_bad_input(bad, err):
    with pytest.raises(err, match="expected"):
        bad()


# --- induction ----------------------------------------------------------------------------

@pytest.mark.parametrize("bos", [True, False])
def test_repeated_tokens_structure(bos):
    L, V = 12, 30
    ids = repeated_tokens(64, L, V, seed=5, bos=bos)
    b = int(bos)
    assert ids.shape == (64, b + 2 * L) and ids.dtype == torch.long
    if bos:
        assert (ids[:, 0] == 0).all()
    x = ids[:, b:b + L]
    assert torch.equal(ids[:, b + L:], x)
    assert int(x.min()) >= 1 and int(x.max()) < V
    assert all(len(set(row.tolist())) == L for row in x)
    inputs, targets = next_token_batch(ids)
    first, repeated = induction_masks(L, bos=bos)
    assert first.shape == repeated.shape == (inputs.shape[1],)
    assert int(first.sum()) == int(repeated.sum()) == L - 1 and not (first & repeated).any()
    t = torch.arange(inputs.shape[1])
    # A prediction in the repeated half is copyable: its target sits L tokens earlier too,
    # right after an earlier copy of the current token.
    assert torch.equal(targets[:, repeated], ids[:, t[repeated] + 1 - L])
    assert torch.equal(inputs[:, repeated], ids[:, t[repeated] - L])


def test_repeated_tokens_seeded():
    assert torch.equal(repeated_tokens(4, 5, 20, seed=1), repeated_tokens(4, 5, 20, seed=1))
    assert not torch.equal(repeated_tokens(4, 5, 20, seed=1), repeated_tokens(4, 5, 20, seed=2))
    ids = repeated_tokens(200, 10, 5, seed=0, distinct=False)
    assert int(ids[:, 1:].min()) >= 1 and int(ids.max()) < 5


def test_repeated_segments_structure_and_masks():
    T, V = 30, 20
    ids, starts, lengths = repeated_segments(200, T, V, min_repeat=3, max_repeat=9, seed=4)
    assert ids.shape == (200, T) and ids.dtype == torch.long and (ids[:, 0] == 0).all()
    assert int(ids[:, 1:].min()) >= 1 and int(ids.max()) < V
    assert set(lengths.tolist()) == set(range(3, 10)), "every length in the range occurs"
    assert len(set(starts.tolist())) > 10 and int(starts.min()) >= 1
    assert bool((starts + 2 * lengths <= T).all())
    first, repeated = segment_masks(starts, lengths, T)
    inputs, targets = next_token_batch(ids)
    assert first.shape == repeated.shape == inputs.shape and not (first & repeated).any()
    for i, (s, L) in enumerate(zip(starts.tolist(), lengths.tolist())):
        x = ids[i, s:s + L].tolist()
        assert ids[i, s + L:s + 2 * L].tolist() == x and len(set(x)) == L
        assert targets[i, first[i]].tolist() == x[1:] and targets[i, repeated[i]].tolist() == x[1:]
        assert inputs[i, repeated[i]].tolist() == x[:-1]
    again = repeated_segments(200, T, V, min_repeat=3, max_repeat=9, seed=4)
    assert all(torch.equal(a, b) for a, b in zip((ids, starts, lengths), again))
    assert not torch.equal(ids, repeated_segments(200, T, V, min_repeat=3, max_repeat=9, seed=5)[0])


def test_repeated_segments_skip_bigram_filler():
    T, V = 40, 20
    plain, starts, lengths = repeated_segments(300, T, V, min_repeat=3, max_repeat=6, seed=2)
    ids, s2, l2 = repeated_segments(300, T, V, min_repeat=3, max_repeat=6, seed=2, skip_bigram=0.5)
    pos = torch.arange(T)[None]

    def filler(st, le):
        return ~((pos >= st[:, None]) & (pos < (st + 2 * le)[:, None]))[:, 3:]

    # the rule pi is one fixed permutation: read it off the pairs (t - 2, t) that occur most often
    a, b = ids[:, 1:-2][filler(s2, l2)], ids[:, 3:][filler(s2, l2)]
    counts = torch.zeros(V, V)
    counts.index_put_((a, b), torch.ones(len(a)), accumulate=True)
    pi = counts.argmax(1)
    assert sorted(pi[1:].tolist()) == list(range(1, V)), "a permutation of the tokens"
    follows = float((pi[a] == b).float().mean())
    # p / (1 + p) = 1/3 follow the rule (never two in a row), the rest match by chance (1/19)
    assert 0.3 < follows < 0.45
    far = filler(s2, l2)[:, 2:]
    two_steps = float((pi[pi[ids[:, 1:-4][far]]] == ids[:, 5:][far]).float().mean())
    assert two_steps < 0.1, "no chains: tokens four apart are unrelated"
    keep = filler(starts, lengths)
    plain_follows = float((pi[plain[:, 1:-2][keep]] == plain[:, 3:][keep]).float().mean())
    assert plain_follows < 0.1
    for i, (s, L) in enumerate(zip(s2.tolist(), l2.tolist())):
        assert ids[i, s:s + L].tolist() == ids[i, s + L:s + 2 * L].tolist()


def test_segment_masks_by_hand():
    # s = 2, L = 3 in T = 9: tokens 2..4 and 5..7; predictions t score token t + 1
    first, repeated = segment_masks(torch.tensor([2]), torch.tensor([3]), 9)
    assert first[0].nonzero().flatten().tolist() == [2, 3]
    assert repeated[0].nonzero().flatten().tolist() == [5, 6]


@pytest.mark.parametrize("bad, err", [
    (lambda: repeated_tokens(0, 5, 10), ValueError),
    (lambda: repeated_tokens(2, 1, 10), ValueError),
    (lambda: repeated_tokens(2, 10, 10), ValueError),
    (lambda: repeated_tokens(2, 5, 10, seed=-1), ValueError),
    (lambda: repeated_tokens(2.0, 5, 10), TypeError),
    (lambda: next_token_batch(torch.zeros(2, 1, dtype=torch.long)), ValueError),
    (lambda: next_token_batch(torch.zeros(2, 3)), TypeError),
    (lambda: induction_masks(1), ValueError),
    (lambda: repeated_segments(2, 10, 20, min_repeat=1, max_repeat=4), ValueError),
    (lambda: repeated_segments(2, 10, 20, min_repeat=3, max_repeat=2), ValueError),
    (lambda: repeated_segments(2, 8, 20, min_repeat=2, max_repeat=4), ValueError),
    (lambda: repeated_segments(2, 30, 5, min_repeat=2, max_repeat=5), ValueError),
    (lambda: repeated_segments(2, 30, 20, min_repeat=2, max_repeat=5, seed=-1), ValueError),
    (lambda: repeated_segments(2, 30, 20, min_repeat=2, max_repeat=5, skip_bigram=1.5), ValueError),
    (lambda: segment_masks(torch.tensor([1, 2]), torch.tensor([3]), 10), ValueError),
    (lambda: segment_masks(torch.tensor([0]), torch.tensor([3]), 10), ValueError),
    (lambda: segment_masks(torch.tensor([3]), torch.tensor([4]), 10), ValueError),
    (lambda: segment_masks(torch.tensor([1.0]), torch.tensor([3]), 10), TypeError),
])
def test_induction_bad_input(bad, err):
    with pytest.raises(err, match="expected"):
        bad()


# --- corpus -------------------------------------------------------------------------------

def test_corpus_sentences_agree_in_number():
    plural_nouns = set(corpus_mod.NOUNS.values())
    attractors = 0
    for s in generate_sentences(2000, seed=4):
        w = s.split()
        assert w[-1] == "."
        verb_at = 5 if w[2] in corpus_mod.PREPOSITIONS else 2
        plural = w[1] in plural_nouns
        verb = w[verb_at]
        table = [corpus_mod.INTRANSITIVE, corpus_mod.TRANSITIVE]
        if plural:
            assert verb == "are" or any(verb in t["plural"] for t in table), s
        else:
            assert verb == "is" or any(verb in t["singular"] for t in table), s
        attractors += verb_at == 5 and (w[4] in plural_nouns) != plural
    assert attractors > 100


@pytest.mark.parametrize("level", ["word", "char"])
def test_language_corpus_streams(level):
    c = language_corpus(500, seed=1, level=level, validation_fraction=0.2)
    assert len(c.train_sentences) == 400 and len(c.validation_sentences) == 100
    assert c.train.dtype == c.validation.dtype == torch.long
    assert c.tokenizer.decode(c.train) == " ".join(c.train_sentences)
    assert c.tokenizer.decode(c.validation) == " ".join(c.validation_sentences)
    assert UNK_ID not in c.train.tolist()
    assert c.tokenizer == corpus_tokenizer(level)
    assert torch.equal(language_corpus(500, seed=1, level=level, validation_fraction=0.2).train, c.train)


def test_next_token_windows():
    stream = torch.arange(23)
    x, y = next_token_windows(stream, 5)
    assert x.shape == y.shape == (4, 5)
    assert torch.equal(y, x + 1) and x[0].tolist() == [0, 1, 2, 3, 4]
    x, _ = next_token_windows(stream, 5, stride=2)
    assert x[:, 0].tolist() == list(range(0, 18, 2))


@pytest.mark.parametrize("bad, err", [
    (lambda: generate_sentences(0), ValueError),
    (lambda: language_corpus(1), ValueError),
    (lambda: language_corpus(10, level="byte"), ValueError),
    (lambda: language_corpus(10, validation_fraction=1.0), ValueError),
    (lambda: next_token_windows(torch.arange(3), 5), ValueError),
    (lambda: next_token_windows(torch.arange(10.0), 2), TypeError),
    (lambda: next_token_windows(torch.arange(10), 0), ValueError),
])
def test_corpus_bad_input(bad, err):
    with pytest.raises(err, match="expected"):
        bad()


# --- images -------------------------------------------------------------------------------

def test_digits_dataset():
    from sklearn.datasets import load_digits

    data = digits_dataset(seed=0)
    n = len(load_digits().target)
    assert len(data.train) + len(data.test) == n
    assert data.train.images.shape[1:] == (1, 8, 8) and data.train.images.dtype == torch.float32
    for split in (data.train, data.test):
        assert float(split.images.min()) == 0.0 and float(split.images.max()) == 1.0
        assert split.labels.dtype == torch.long
        assert set(split.labels.tolist()) == set(range(10))
    # Every original image lands in exactly one split: match pixel rows by multiset.
    everything = torch.cat([data.train.images, data.test.images]).reshape(n, -1) * 16
    original = torch.as_tensor(load_digits().data, dtype=torch.float32)
    assert sorted(map(tuple, everything.tolist())) == sorted(map(tuple, original.tolist()))
    again, other = digits_dataset(seed=0), digits_dataset(seed=1)
    assert torch.equal(again.test.images, data.test.images)
    assert not torch.equal(other.test.images, data.test.images)
    assert digits_dataset(dtype=torch.float64).train.images.dtype == torch.float64


@pytest.mark.parametrize("kwargs, err", [
    ({"test_fraction": 0.0}, ValueError),
    ({"test_fraction": 1}, ValueError),
    ({"seed": -1}, ValueError),
    ({"dtype": torch.long}, TypeError),
])
def test_digits_bad_input(kwargs, err):
    with pytest.raises(err, match="expected"):
        digits_dataset(**kwargs)


def test_sentence_count():
    # With no negation, intensifier or contrast a sentence is a choice of label, opener,
    # determiner, noun, verb, adjective of that label, and closer.
    n = sent_mod.sentence_count(0, 0, 0)
    assert n == 2 * 6 * 5 * 3 * 14 * 4 * 12
    assert sent_mod.sentence_count(0.3, 0.3, 0.25) > 10 ** 7
    assert sent_mod.sentence_count(1, 1, 1) == 2 * 6 * 5 * (3 * 14 * 4 * 2 * 5 * 12) ** 2


def test_word_role_covers_the_vocabulary():
    from llmxai.data import WORD_ROLES, sentiment_vocabulary, word_role

    roles = {w: word_role(w) for w in sentiment_vocabulary()}
    assert set(roles.values()) == set(WORD_ROLES)
    assert [w for w, r in roles.items() if r == "positive"] == sorted(sent_mod.POSITIVE)
    assert [w for w, r in roles.items() if r == "negative"] == sorted(sent_mod.NEGATIVE)
    assert (roles["not"], roles["very"], roles["but"], roles["movie"], roles["."]) == (
        "negation", "intensifier", "contrast", "neutral", "neutral")
    # a sentiment token's role in a sentence is "sentiment"; its word role keeps the polarity
    ex = generate_sentiment(1, seed=3)[0]
    for token, role in zip(ex.tokens, ex.roles):
        assert (role == "sentiment") == (word_role(token) in ("positive", "negative"))


@pytest.mark.parametrize("bad, err", [("popcorn", ValueError), (3, TypeError), ("<pad>", ValueError)])
def test_word_role_bad_input(bad, err):
    from llmxai.data import word_role

    with pytest.raises(err, match="expected"):
        word_role(bad)
