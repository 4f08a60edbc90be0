"""Recipes for the named tiny models of :func:`llmxai.pretrained.pretrained`, and the data they saw.

Each recipe builds its model from ``config["model"]``, makes its data from
``config["data"]`` (seeded, generated, nothing downloaded), trains with
:func:`llmxai.train.fit` until a held-out metric passes its goal plus a margin (or a
step budget runs out), and returns its metrics. On a CPU it trains on one thread:
these models are so small that a second intra-op thread only adds synchronisation,
and on a shared machine it makes the time swing.

Early stopping reads a *validation* split cut from the training examples; the
reported metric is measured afterwards on the *test* split, which training never
touched. ``sentiment_data()``, ``date_data()`` and ``digits_data()`` rebuild exactly
those objects: the ``llmxai.data`` dataset with ``train`` (the examples fitted),
``test`` and ``tokenizer``, plus a ``validation`` split attached by this module.
``corpus_data()`` is tiny_gpt's :class:`llmxai.data.Corpus` (trained a fixed number of
steps, so its validation stream only measures); ``induction_batch(step)`` and
``induction_data()`` are the induction model's training batches and held-out sequences.
Each recipe's ``info["config"]`` holds ``model`` (the constructor's arguments), ``data``
(the helper's arguments), ``train`` and, for text, ``tokenizer``
(:func:`llmxai.data.tokenizer_from_config` rebuilds it).

Recipes print nothing; set ``LLMXAI_PROGRESS=1`` to see :func:`llmxai.train.fit`'s bar.

Metric keys (``pretrained(name, return_info=True)[1]["metrics"]``):

``seconds``           wall time of the recipe: data, training and evaluation (:func:`measure`
                      also times the whole ``pretrained`` call, building and saving included)
``cpu_seconds``       CPU time of this process over the same span (``seconds`` much larger
                      than ``cpu_seconds`` means a busy machine, not a slow recipe)
``steps``             optimiser updates
``test_accuracy``     classifiers (sentiment_lstm, sentiment_transformer, text_cnn, digits_cnn)
``exact_match``       date_seq2seq: greedy outputs equal to the whole ISO date, test split
``char_accuracy``     date_seq2seq: per-character accuracy of the greedy outputs
``val_loss``          tiny_gpt: mean next-token cross-entropy (nats) on the validation stream
``unigram_loss``      tiny_gpt: the same for the training unigram distribution (the baseline)
``val_loss_ratio``    tiny_gpt: ``val_loss / unigram_loss`` (goal <= 0.7: well below unigram)
``loss_first``        induction: loss on the unpredictable first half of held-out sequences
``loss_repeated``     induction: loss on the repeated (copyable) half
``repeated_ratio``    induction: ``loss_repeated / loss_first`` (goal <= 0.3)
``induction_score``   induction: the best second-layer head's induction score at the end,
                      measured on the held-out rows, whose repeat length and place vary
                      (goal >= 0.5; :func:`head_scores`)
``prev_token_score``  induction: the best first-layer head's previous-token score (goal >= 0.5)
``history``           dict of lists: ``loss``, the training loss of every step, and, one entry
                      per evaluation, ``step`` and ``metric`` (what ``fit``'s ``eval_fn``
                      returned, higher is better: validation accuracy or exact match, minus
                      tiny_gpt's validation loss, minus induction's ``repeated_ratio``), plus
                      per-recipe curves: tiny_gpt ``val_loss``; induction (which also
                      checkpoints at step 0) ``loss_first``, ``loss_repeated``,
                      ``repeated_ratio``, ``induction_score``, ``prev_token_score`` and
                      ``induction_scores`` / ``previous_token_scores``, one
                      ``(n_layers, n_heads)`` nested list per checkpoint (:func:`head_scores`)

Each recipe's goal, and the measurement that retrains it against that goal, live with the
benchmark (:mod:`llmxai.bench.training`); ``llmxai.pretrained`` serves the trained models.
"""

import contextlib
import os
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from llmxai.data import (
    ImageSplit,
    corpus_tokenizer,
    date_dataset,
    date_tokenizer,
    digits_dataset,
    encode_dates,
    encode_sentiment,
    language_corpus,
    next_token_batch,
    next_token_windows,
    repeated_segments,
    segment_masks,
    sentiment_dataset,
    sentiment_tokenizer,
)
from llmxai.data.corpus import unigram_loss
from llmxai.data.dates import date_scores
from llmxai.data.induction import half_losses, head_scores
from llmxai.data.tokenize import PAD_ID
from llmxai.nn import GPT, DigitsCNN, LSTMAttentionClassifier, Seq2Seq, TextCNN, TransformerClassifier
from llmxai.device import generator
from llmxai.evaluation import accuracy, mean_loss
from llmxai.train import fit

PROGRESS_ENV = "LLMXAI_PROGRESS"  # set to 1 to see a progress bar while a recipe trains


@dataclass(frozen=True)
class Recipe:
    """How one shared model is made: ``build(**config)`` the untrained model, ``train(model, config,
    device) -> metrics`` trains it in place. Change ``version`` whenever the recipe changes what it trains."""

    name: str
    version: str
    build: object
    config: dict
    train: object
    description: str


RECIPES = {}  # name -> Recipe; llmxai.pretrained serves them


def _register(name, *, version, build, config, description):
    def decorator(train):
        RECIPES[name] = Recipe(name, version, build, config, train, description)
        return train

    return decorator


def _progress():
    return os.environ.get(PROGRESS_ENV, "") not in ("", "0")


@contextlib.contextmanager
def _threads(device, n=1):
    """Run with ``n`` intra-op threads on a CPU, restoring the previous count afterwards."""
    if torch.device(device).type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(min(n, before))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _history(h, **curves):
    """The metrics' ``history`` entry from a :class:`llmxai.train.History` and extra per-evaluation curves."""
    out = {"step": list(h.eval_steps), "metric": list(h.metric), "loss": list(h.step_loss)}
    out.update({k: list(v) for k, v in curves.items()})
    return out


def _clock():
    return time.perf_counter(), time.process_time()


def _fit_metrics(h, started):
    """Seconds (wall and this process's CPU, which shows how much of the wall time a busy machine took), steps."""
    return {"seconds": time.perf_counter() - started[0], "cpu_seconds": time.process_time() - started[1],
            "steps": h.steps, "epochs": h.epochs, "reached_target": float(h.reached_target)}


# --- sentiment ----------------------------------------------------------------------------

SENTIMENT_DATA = {"n_train": 2000, "n_test": 500, "n_validation": 300, "seed": 0}


def sentiment_data(n_train=None, n_test=None, n_validation=None, seed=None):
    """The sentiment sentences the sentiment recipes trained on (defaults: :data:`SENTIMENT_DATA`).

    A :class:`llmxai.data.SentimentData` with ``train`` (fitted), ``test`` (held out,
    reported) and ``tokenizer``, plus ``validation`` (held out, used to stop training).
    """
    c = dict(SENTIMENT_DATA)
    c.update({k: v for k, v in (("n_train", n_train), ("n_test", n_test), ("n_validation", n_validation),
                                ("seed", seed)) if v is not None})
    data = sentiment_dataset(c["n_train"] + c["n_validation"], c["n_test"], c["seed"])
    examples = data.train.examples
    data.train = encode_sentiment(examples[:c["n_train"]], data.tokenizer)
    data.validation = encode_sentiment(examples[c["n_train"]:], data.tokenizer)
    return data


def _train_classifier(model, config, device, make_data):
    """Fit a classifier on ``make_data(**config['data']).train`` until validation accuracy reaches the target."""
    t = config["train"]
    started = _clock()
    data = make_data(**config["data"])
    with _threads(device):
        h = fit(model, data.train.tensors, lr=t["lr"], batch_size=t["batch_size"], epochs=t["epochs"],
                eval_fn=lambda m: accuracy(m, data.validation.tensors), eval_every=t["eval_every"],
                target=t["target"], device=device, seed=t["seed"], progress=_progress())
        test = accuracy(model, data.test.tensors)
    return {**_fit_metrics(h, started), "test_accuracy": test, "validation_accuracy": h.final_metric,
            "history": _history(h)}


_SENTIMENT_VOCAB = sentiment_tokenizer().vocab_size
_SENTIMENT_TOKENIZER = sentiment_tokenizer().to_config()


def _build(cls):
    return lambda model, **_: cls(**model)


@_register(
    "sentiment_lstm", version="1", build=_build(LSTMAttentionClassifier),
    config={
        "model": {"vocab_size": _SENTIMENT_VOCAB, "n_classes": 2, "d_emb": 32, "d_hidden": 32, "bidirectional": True},
        "data": SENTIMENT_DATA, "tokenizer": _SENTIMENT_TOKENIZER,
        "train": {"lr": 1e-2, "batch_size": 32, "epochs": 10, "eval_every": 20, "target": 0.99, "seed": 0},
    },
    description="bidirectional LSTM with attention pooling on the sentiment sentences",
)
def sentiment_lstm(model, config, device):
    return _train_classifier(model, config, device, sentiment_data)


@_register(
    "sentiment_transformer", version="1", build=_build(TransformerClassifier),
    config={
        "model": {"vocab_size": _SENTIMENT_VOCAB, "n_classes": 2, "d_model": 32, "n_heads": 4, "n_layers": 2,
                  "d_ff": 64, "max_len": 64},
        "data": SENTIMENT_DATA, "tokenizer": _SENTIMENT_TOKENIZER,
        "train": {"lr": 3e-3, "batch_size": 32, "epochs": 10, "eval_every": 20, "target": 0.99, "seed": 0},
    },
    description="two-layer pre-LN Transformer encoder classifier on the sentiment sentences",
)
def sentiment_transformer(model, config, device):
    return _train_classifier(model, config, device, sentiment_data)


# --- dates --------------------------------------------------------------------------------

DATE_DATA = {"n_train": 3000, "n_test": 500, "n_validation": 300, "seed": 0}


def date_data(n_train=None, n_test=None, n_validation=None, seed=None):
    """The date pairs the date_seq2seq recipe trained on (defaults: :data:`DATE_DATA`).

    A :class:`llmxai.data.DateData` with ``train``, ``test``, ``tokenizer`` and ``validation``.
    """
    c = dict(DATE_DATA)
    c.update({k: v for k, v in (("n_train", n_train), ("n_test", n_test), ("n_validation", n_validation),
                                ("seed", seed)) if v is not None})
    data = date_dataset(c["n_train"] + c["n_validation"], c["n_test"], c["seed"])
    examples = data.train.examples
    data.train = encode_dates(examples[:c["n_train"]], data.tokenizer)
    data.validation = encode_dates(examples[c["n_train"]:], data.tokenizer)
    return data


def seq2seq_loss(model, batch):
    """Teacher-forced cross-entropy: read ``target[:, :-1]``, predict ``target[:, 1:]`` (padding skipped)."""
    src, src_lengths, tgt = batch
    logits = model(src, tgt[:, :-1], src_lengths)  # (B, T_tgt - 1, V)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1), ignore_index=PAD_ID)


_DATE_VOCAB = date_tokenizer().vocab_size


@_register(
    "date_seq2seq", version="1", build=_build(Seq2Seq),
    config={
        "model": {"src_vocab": _DATE_VOCAB, "tgt_vocab": _DATE_VOCAB, "d_emb": 16, "d_hidden": 32,
                  "bidirectional": True},
        "data": DATE_DATA, "tokenizer": date_tokenizer().to_config(),
        "train": {"lr": 2e-2, "batch_size": 64, "steps": 600, "eval_every": 25, "target": 0.98,
                  "clip_grad_norm": 1.0, "seed": 0},
    },
    description="LSTM encoder, additive attention, LSTM decoder: dates to ISO 8601",
)
def date_seq2seq(model, config, device):
    t = config["train"]
    started = _clock()
    data = date_data(**config["data"])
    with _threads(device):
        h = fit(model, data.train.tensors, loss_fn=seq2seq_loss, lr=t["lr"], batch_size=t["batch_size"],
                steps=t["steps"], eval_fn=lambda m: date_scores(m, data.validation)[0], eval_every=t["eval_every"],
                target=t["target"], clip_grad_norm=t["clip_grad_norm"], device=device, seed=t["seed"],
                progress=_progress())
        exact, chars = date_scores(model, data.test)
    return {**_fit_metrics(h, started), "exact_match": exact, "char_accuracy": chars,
            "validation_exact_match": h.final_metric, "history": _history(h)}


@_register(
    "text_cnn", version="1", build=_build(TextCNN),
    config={
        "model": {"vocab_size": _SENTIMENT_VOCAB, "n_classes": 2, "d_emb": 32, "n_filters": 32,
                  "kernel_sizes": [2, 3, 4]},
        "data": SENTIMENT_DATA, "tokenizer": _SENTIMENT_TOKENIZER,
        "train": {"lr": 1e-2, "batch_size": 32, "epochs": 10, "eval_every": 10, "target": 0.995, "seed": 0},
    },
    description="1-D convolutions over word embeddings, max over time (Kim 2014), on the sentiment sentences",
)
def text_cnn(model, config, device):
    return _train_classifier(model, config, device, sentiment_data)


# --- digits -------------------------------------------------------------------------------

DIGITS_DATA = {"test_fraction": 0.25, "n_validation": 200, "seed": 0}


def digits_data(test_fraction=None, n_validation=None, seed=None):
    """The 8x8 digits split the digits_cnn recipe used (defaults: :data:`DIGITS_DATA`).

    A :class:`llmxai.data.ImageData` with ``train``, ``test`` and ``validation`` (a seeded
    random part of the training images, held out to stop training).
    """
    c = dict(DIGITS_DATA)
    c.update({k: v for k, v in (("test_fraction", test_fraction), ("n_validation", n_validation),
                                ("seed", seed)) if v is not None})
    data = digits_dataset(c["test_fraction"], c["seed"])
    order = torch.randperm(len(data.train), generator=generator(c["seed"]))
    fit_idx, val_idx = order[c["n_validation"]:].sort().values, order[:c["n_validation"]].sort().values
    images, labels = data.train.tensors
    data.train = ImageSplit(images[fit_idx], labels[fit_idx])
    data.validation = ImageSplit(images[val_idx], labels[val_idx])
    return data


@_register(
    "digits_cnn", version="1", build=_build(DigitsCNN),
    config={
        "model": {"n_classes": 10, "c1": 16, "c2": 32},
        "data": DIGITS_DATA,
        "train": {"lr": 1e-2, "batch_size": 32, "epochs": 20, "eval_every": 20, "target": 0.99, "seed": 0},
    },
    description="two convolutions, max pooling and a linear head on scikit-learn's 8x8 digits",
)
def digits_cnn(model, config, device):
    return _train_classifier(model, config, device, digits_data)


# --- tiny GPT -----------------------------------------------------------------------------

CORPUS_DATA = {"n_sentences": 3000, "seed": 0, "level": "word", "validation_fraction": 0.1}


def corpus_data(n_sentences=None, seed=None, level=None, validation_fraction=None):
    """The generated corpus the tiny_gpt recipe trained on (defaults: :data:`CORPUS_DATA`).

    A :class:`llmxai.data.Corpus`: ``train`` and ``validation`` id streams, ``tokenizer``
    and the sentences. tiny_gpt trains a fixed number of steps, so the validation stream
    only measures (nothing was chosen by it).
    """
    c = dict(CORPUS_DATA)
    c.update({k: v for k, v in (("n_sentences", n_sentences), ("seed", seed), ("level", level),
                                ("validation_fraction", validation_fraction)) if v is not None})
    return language_corpus(c["n_sentences"], c["seed"], level=c["level"],
                           validation_fraction=c["validation_fraction"])


@_register(
    "tiny_gpt", version="1", build=_build(GPT),
    config={
        "model": {"vocab_size": corpus_tokenizer("word").vocab_size, "d_model": 64, "n_heads": 4, "n_layers": 2,
                  "d_ff": 256, "max_len": 32},
        "data": CORPUS_DATA, "tokenizer": corpus_tokenizer("word").to_config(),
        "train": {"lr": 3e-3, "batch_size": 32, "steps": 200, "eval_every": 25, "block_size": 32, "stride": 16,
                  "seed": 0},
    },
    description="decoder-only Transformer (two blocks) trained by next-token prediction on the generated corpus",
)
def tiny_gpt(model, config, device):
    t = config["train"]
    started = _clock()
    corpus = corpus_data(**config["data"])
    train = next_token_windows(corpus.train, t["block_size"], stride=t["stride"])
    validation = next_token_windows(corpus.validation, t["block_size"])
    with _threads(device):
        h = fit(model, train, lr=t["lr"], batch_size=t["batch_size"], steps=t["steps"],
                eval_fn=lambda m: -mean_loss(m, validation), eval_every=t["eval_every"], device=device,
                seed=t["seed"], progress=_progress())
    val = -h.final_metric
    uni = unigram_loss(corpus.train, corpus.validation, corpus.tokenizer.vocab_size)
    history = _history(h, val_loss=[-m for m in h.metric])
    return {**_fit_metrics(h, started), "val_loss": val, "unigram_loss": uni, "val_loss_ratio": val / uni,
            "history": history}


# --- induction heads ----------------------------------------------------------------------

INDUCTION_DATA = {"vocab_size": 32, "seq_len": 32, "min_repeat": 4, "max_repeat": 14, "skip_bigram": 0.5,
                  "batch_size": 32, "n_eval": 128, "eval_seed": 1_000_000}


def induction_batch(step, data=None):
    """The training batch of step ``step``: fresh :func:`llmxai.data.repeated_segments` rows seeded by the step.

    Each row is ``seq_len`` random tokens holding one segment ``x`` repeated once, with
    its length ``L`` (``min_repeat .. max_repeat``) and its start drawn per row. Since
    neither the offset ``L`` between the copies nor their place is fixed, no head that
    attends by position alone can find the earlier copy: the model has to match content,
    which is what the two-layer induction circuit does (Olsson et al. 2022). (With one
    fixed layout, ``[BOS, x, x]`` and a single ``L``, a first-layer head attending
    ``L - 1`` places back solves the task instead, and no induction circuit forms.)

    Part of the filler follows a skip-bigram rule (``skip_bigram``): it gives a
    previous-token head a use of its own, so one forms within the first few hundred
    steps and the second layer can build on it (in trials without the rule, no circuit
    had formed after 2,000 steps). With chains of the rule allowed, the model found a
    look-alike circuit instead (a first-layer head three tokens back, second-layer heads attending
    two after the earlier copy), which is why the rule never applies twice in a row.
    """
    c = INDUCTION_DATA if data is None else data
    ids, _, _ = repeated_segments(c["batch_size"], c["seq_len"], c["vocab_size"], min_repeat=c["min_repeat"],
                                  max_repeat=c["max_repeat"], seed=step, skip_bigram=c["skip_bigram"])
    return next_token_batch(ids)


def induction_data(data=None):
    """The held-out rows ``(ids, starts, lengths)`` (:func:`llmxai.data.repeated_segments`) the recipe measures on."""
    c = INDUCTION_DATA if data is None else data
    return repeated_segments(c["n_eval"], c["seq_len"], c["vocab_size"], min_repeat=c["min_repeat"],
                             max_repeat=c["max_repeat"], seed=c["eval_seed"], skip_bigram=c["skip_bigram"])


@_register(
    "induction", version="2", build=_build(GPT),
    config={
        "model": {"vocab_size": INDUCTION_DATA["vocab_size"], "d_model": 64, "n_heads": 4, "n_layers": 2,
                  "max_len": INDUCTION_DATA["seq_len"], "mlp": False},
        "data": INDUCTION_DATA,
        "train": {"lr": 3e-3, "steps": 1500, "eval_every": 50, "target_ratio": 0.2, "n_score": 64, "seed": 0},
    },
    description="two-layer attention-only Transformer on repeated random tokens (induction heads form)",
)
def induction(model, config, device):
    """Train until the repeated copy's loss is ``target_ratio`` of the first copy's, recording the phase change.

    Every checkpoint records both losses and every head's induction and previous-token
    score (on ``n_score`` held-out rows), so the curves show the loss drop and the two
    heads appearing together.
    """
    t, c = config["train"], config["data"]
    started = _clock()
    ids, starts, lengths = (v.to(device) for v in induction_data(c))
    n = t["n_score"]
    curves = {k: [] for k in ("loss_first", "loss_repeated", "repeated_ratio", "induction_score",
                              "prev_token_score", "induction_scores", "previous_token_scores")}

    @torch.no_grad()
    def checkpoint(m):
        m.eval()
        first, repeated = half_losses(m, ids, starts, lengths)
        ind, prev = head_scores(m, ids[:n], starts[:n], lengths[:n])  # (n_layers, n_heads) each
        for k, v in (("loss_first", first), ("loss_repeated", repeated), ("repeated_ratio", repeated / first),
                     ("induction_score", float(ind[-1].max())), ("prev_token_score", float(prev[0].max())),
                     ("induction_scores", ind.tolist()), ("previous_token_scores", prev.tolist())):
            curves[k].append(v)
        return -repeated / first

    with _threads(device):
        checkpoint(model)  # step 0: before any training
        h = fit(model, lambda step: induction_batch(step, c), lr=t["lr"], steps=t["steps"], eval_fn=checkpoint,
                eval_every=t["eval_every"], target=-t["target_ratio"], device=device, seed=t["seed"],
                progress=_progress())
    history = _history(h, **curves)
    history["step"] = [0] + history["step"]
    history["metric"] = [-curves["repeated_ratio"][0]] + history["metric"]
    last = {k: curves[k][-1] for k in ("loss_first", "loss_repeated", "repeated_ratio", "induction_score",
                                       "prev_token_score")}
    return {**_fit_metrics(h, started), **last, "history": history}


# --- a planted shortcut ("Clever Hans") -----------------------------------------------------

import random  # noqa: E402  (this section's own imports, kept with it)

from llmxai.data import SentimentExample, WordTokenizer, sentiment_vocabulary  # noqa: E402
from llmxai.device import shift_seed  # noqa: E402

SHORTCUT_TOKEN = "#fansite"  # a source tag: not a word of the sentiment grammar, no sentiment of its own
SHORTCUT_DATA = {"n_train": 2000, "n_test": 500, "n_validation": 300, "seed": 0, "p_positive": 0.95,
                 "p_negative": 0.0}


def plant_token(examples, token, p_positive, p_negative, seed):
    """Copies of sentiment ``examples`` with ``token`` put first in a seeded random part of them.

    A positive sentence gets the token with probability ``p_positive``, a negative one with
    ``p_negative`` (a spurious correlation, the text version of the source tag that
    Lapuschkin et al. 2019, DOI 10.1038/s41467-019-08987-4, found a classifier reading).
    The token is outside the rationale and has the role ``"neutral"``; the label is unchanged.
    """
    if not isinstance(token, str) or token.split() != [token]:
        raise ValueError(f"token: expected one word without whitespace, got {token!r}")
    rng = random.Random(shift_seed(seed))
    out = []
    for ex in examples:
        if rng.random() < (p_positive if ex.label == 1 else p_negative):
            ex = SentimentExample((token,) + ex.tokens, ex.label, (0,) + ex.rationale, ("neutral",) + ex.roles)
        out.append(ex)
    return out


def shortcut_tokenizer(token=SHORTCUT_TOKEN):
    """The sentiment tokenizer with ``token`` appended (every sentiment word keeps its id)."""
    return WordTokenizer(sentiment_vocabulary() + [token])


def shortcut_data(n_train=None, n_test=None, n_validation=None, seed=None, p_positive=None, p_negative=None):
    """The sentiment sentences of the sentiment_shortcut recipe (defaults: :data:`SHORTCUT_DATA`).

    ``train``, ``validation`` and ``test`` carry :data:`SHORTCUT_TOKEN` with the same
    correlation (``p_positive`` of the positive, ``p_negative`` of the negative sentences);
    ``test_clean`` is the same test sentences without it, ``test_swapped`` the test
    sentences with the correlation reversed (the same random draws, the label swapped),
    and ``tokenizer`` is :func:`shortcut_tokenizer`.
    """
    c = dict(SHORTCUT_DATA)
    c.update({k: v for k, v in (("n_train", n_train), ("n_test", n_test), ("n_validation", n_validation),
                                ("seed", seed), ("p_positive", p_positive), ("p_negative", p_negative))
              if v is not None})
    data = sentiment_dataset(c["n_train"] + c["n_validation"], c["n_test"], c["seed"])
    tok = shortcut_tokenizer()
    fitted, test = data.train.examples, data.test.examples
    s, pp, pn = 4 * c["seed"], c["p_positive"], c["p_negative"]
    data.tokenizer = tok
    data.train = encode_sentiment(plant_token(fitted[:c["n_train"]], SHORTCUT_TOKEN, pp, pn, s + 1), tok)
    data.validation = encode_sentiment(plant_token(fitted[c["n_train"]:], SHORTCUT_TOKEN, pp, pn, s + 2), tok)
    data.test = encode_sentiment(plant_token(test, SHORTCUT_TOKEN, pp, pn, s + 3), tok)
    data.test_clean = encode_sentiment(test, tok)
    data.test_swapped = encode_sentiment(plant_token(test, SHORTCUT_TOKEN, pn, pp, s + 3), tok)
    return data


@_register(
    "sentiment_shortcut", version="1", build=_build(TextCNN),
    config={
        "model": {"vocab_size": shortcut_tokenizer().vocab_size, "n_classes": 2, "d_emb": 32, "n_filters": 32,
                  "kernel_sizes": [2, 3, 4]},
        "data": SHORTCUT_DATA, "tokenizer": shortcut_tokenizer().to_config(),
        "train": {"lr": 1e-2, "batch_size": 32, "epochs": 10, "eval_every": 10, "target": 0.99, "seed": 0},
    },
    description="text_cnn's architecture trained on sentiment sentences where a source tag predicts 'positive'",
)
def sentiment_shortcut(model, config, device):
    """Train like text_cnn on :func:`shortcut_data`; report accuracy on the three test sets.

    ``test_accuracy`` (tag correlated as in training), ``clean_accuracy`` (no tag),
    ``swapped_accuracy`` (correlation reversed) and ``shortcut_gap`` = test - swapped.
    """
    m = _train_classifier(model, config, device, shortcut_data)
    data = shortcut_data(**config["data"])
    with _threads(device):
        clean, swapped = accuracy(model, data.test_clean.tensors), accuracy(model, data.test_swapped.tensors)
    return {**m, "clean_accuracy": clean, "swapped_accuracy": swapped, "shortcut_gap": m["test_accuracy"] - swapped}


# --- subject-verb agreement ---------------------------------------------------------------

from llmxai.data import AgreementSplit, agreement_dataset  # noqa: E402  (this section was appended)
from llmxai.nn import GPTClassifier  # noqa: E402

AGREEMENT_DATA = {"n_train": 3000, "n_test": 500, "n_validation": 300, "seed": 0}


def agreement_data(n_train=None, n_test=None, n_validation=None, seed=None):
    """The agreement judgements the agreement_transformer recipe trained on (defaults: :data:`AGREEMENT_DATA`).

    A :class:`llmxai.data.AgreementData` with ``train`` (fitted), ``test`` (held out, reported),
    ``tokenizer`` and ``validation`` (held out, used to stop training), all
    :class:`llmxai.data.AgreementSplit`.
    """
    c = dict(AGREEMENT_DATA)
    c.update({k: v for k, v in (("n_train", n_train), ("n_test", n_test), ("n_validation", n_validation),
                                ("seed", seed)) if v is not None})
    data = agreement_dataset(c["n_train"] + c["n_validation"], c["n_test"], c["seed"])
    s, cut = data.train, c["n_train"]

    def part(rows):
        return AgreementSplit(s.ids[rows], s.lengths[rows], s.labels[rows], s.attractor[rows], s.sentences[rows])

    data.train, data.validation = part(slice(None, cut)), part(slice(cut, None))
    return data


@_register(
    "agreement_transformer", version="1", build=_build(GPTClassifier),
    config={
        "model": {"vocab_size": corpus_tokenizer("word").vocab_size, "n_classes": 2, "d_model": 32, "n_heads": 2,
                  "n_layers": 6, "d_ff": 64, "max_len": 16},
        "data": AGREEMENT_DATA, "tokenizer": corpus_tokenizer("word").to_config(),
        "train": {"lr": 3e-3, "batch_size": 32, "epochs": 20, "eval_every": 25, "target": 0.99, "seed": 0},
    },
    description="six-layer causal Transformer read at the last token: is the sentence's subject-verb agreement right?",
)
def agreement_transformer(model, config, device):
    return _train_classifier(model, config, device, agreement_data)
