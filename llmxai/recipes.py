"""Recipes for the named tiny models of :func:`llmxai.train.pretrained`, and the data they saw.

Each recipe builds its model from ``config["model"]``, makes its data from
``config["data"]`` (seeded, generated, nothing downloaded), trains with
:func:`llmxai.train.fit` until a held-out metric passes its goal plus a margin (or a
step budget runs out), and returns its metrics. On a CPU it trains on one thread:
these models are so small that a second intra-op thread only adds synchronisation,
and on a shared machine it makes the time swing.

Early stopping reads a *validation* split cut from the training examples; the
reported metric is measured afterwards on the *test* split, which training never
touched. ``sentiment_data()``, ``date_data()`` and ``corpus_data()`` rebuild exactly
those objects: the ``llmxai.data`` dataset with ``train`` (the examples fitted),
``test`` and ``tokenizer``, plus a ``validation`` split attached by this module.

Metric keys (``pretrained(name, return_info=True)[1]["metrics"]``):

``seconds``           wall time of the recipe: data, training and evaluation
``cpu_seconds``       CPU time of this process over the same span (``seconds`` much larger
                      than ``cpu_seconds`` means a busy machine, not a slow recipe)
``steps``             optimiser updates
``test_accuracy``     classifiers (sentiment_lstm, sentiment_transformer, text_cnn, digits_cnn)
``exact_match``       date_seq2seq: greedy outputs equal to the whole ISO date, test split
``char_accuracy``     date_seq2seq: per-character accuracy of the greedy outputs
``val_loss``          tiny_gpt: mean next-token cross-entropy (nats) on the validation stream
``unigram_loss``      tiny_gpt: the same for the training unigram distribution (the baseline)
``loss_first``        induction: loss on the unpredictable first half of held-out sequences
``loss_repeated``     induction: loss on the repeated (copyable) half
``repeated_ratio``    induction: ``loss_repeated / loss_first`` (goal <= 0.3)
``induction_score``   induction: best head's induction score at the end
``history``           dict of lists, same length per list: ``step`` and the curves recorded at
                      each evaluation (``metric``, plus per-recipe curves; the induction
                      recipe adds ``loss_first``, ``loss_repeated``, ``induction_score``
                      and ``induction_scores`` / ``previous_token_scores``, one
                      ``(n_layers, n_heads)`` nested list per checkpoint), and ``loss``, the
                      training loss of every step

:data:`GOALS` states each recipe's goal; :func:`goal_met` checks metrics against it and
:func:`measure` retrains recipes in a temporary cache and reports the numbers.
"""

import contextlib
import math
import os
import tempfile
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from llmxai.data import (
    date_dataset,
    date_tokenizer,
    encode_dates,
    encode_sentiment,
    sentiment_dataset,
    sentiment_tokenizer,
)
from llmxai.data.tokenize import BOS_ID, EOS_ID, PAD_ID
from llmxai.nn import LSTMAttentionClassifier, Seq2Seq, TransformerClassifier
from llmxai.train import accuracy, fit, register_pretrained

PROGRESS_ENV = "LLMXAI_PROGRESS"  # set to 1 to see a progress bar while a recipe trains


@dataclass(frozen=True)
class Goal:
    """A recipe's goal: ``metrics[key] >= value`` (or ``<=`` when ``lower`` is true) within ``seconds``."""

    key: str
    value: float
    seconds: float
    lower: bool = False

    def met(self, metrics):
        v = metrics.get(self.key)
        if v is None:
            return False
        ok = v <= self.value if self.lower else v >= self.value
        return bool(ok and metrics.get("seconds", math.inf) <= self.seconds)


GOALS = {
    "sentiment_lstm": Goal("test_accuracy", 0.97, 30),
    "sentiment_transformer": Goal("test_accuracy", 0.97, 30),
    "date_seq2seq": Goal("exact_match", 0.95, 45),
}


def goal_met(name, metrics):
    """Whether ``metrics`` (a recipe's metrics dict) meet the goal of recipe ``name``."""
    if name not in GOALS:
        raise ValueError(f"name: expected one of {sorted(GOALS)}, got {name!r}")
    return GOALS[name].met(metrics)


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


def _train_classifier(model, config, device, data):
    """Fit a classifier on ``data.train`` until validation accuracy reaches ``config['train']['target']``."""
    t = config["train"]
    started = _clock()
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


@register_pretrained(
    "sentiment_lstm", version="1", build=_build(LSTMAttentionClassifier),
    config={
        "model": {"vocab_size": _SENTIMENT_VOCAB, "n_classes": 2, "d_emb": 32, "d_hidden": 32, "bidirectional": True},
        "data": SENTIMENT_DATA, "tokenizer": _SENTIMENT_TOKENIZER,
        "train": {"lr": 1e-2, "batch_size": 32, "epochs": 10, "eval_every": 20, "target": 0.99, "seed": 0},
    },
    description="bidirectional LSTM with attention pooling on the sentiment sentences",
)
def sentiment_lstm(model, config, device):
    return _train_classifier(model, config, device, sentiment_data(**config["data"]))


@register_pretrained(
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
    return _train_classifier(model, config, device, sentiment_data(**config["data"]))


# --- dates --------------------------------------------------------------------------------

DATE_DATA = {"n_train": 3000, "n_test": 500, "n_validation": 300, "seed": 0}
DATE_OUTPUT_LENGTH = 11  # "YYYY-MM-DD" and <eos>


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


def date_predictions(model, split, batch_size=500):
    """Greedy outputs ``(N, 11)`` (padded with 0 after ``<eos>``) for a :class:`llmxai.data.DateSplit`."""
    device = next(model.parameters()).device
    outs = []
    with torch.no_grad():
        for start in range(0, len(split), batch_size):
            src = split.source[start:start + batch_size].to(device)
            lengths = split.source_lengths[start:start + batch_size].to(device)
            tokens, _ = model.greedy_decode(src, DATE_OUTPUT_LENGTH, BOS_ID, EOS_ID, lengths)
            outs.append(F.pad(tokens, (0, DATE_OUTPUT_LENGTH - tokens.shape[1]), value=PAD_ID).cpu())
    return torch.cat(outs)


def date_scores(model, split):
    """``(exact match, character accuracy)`` of greedy decoding on a :class:`llmxai.data.DateSplit`."""
    was_training = model.training
    model.eval()
    try:
        pred = date_predictions(model, split)
    finally:
        model.train(was_training)
    want = split.target[:, 1:1 + DATE_OUTPUT_LENGTH]  # (N, 11): the date and <eos>
    same = pred == want
    return float(same.all(dim=1).float().mean()), float(same.float().mean())


_DATE_VOCAB = date_tokenizer().vocab_size


@register_pretrained(
    "date_seq2seq", version="1", build=_build(Seq2Seq),
    config={
        "model": {"src_vocab": _DATE_VOCAB, "tgt_vocab": _DATE_VOCAB, "d_emb": 16, "d_hidden": 32,
                  "bidirectional": True},
        "data": DATE_DATA, "tokenizer": date_tokenizer().to_config(),
        "train": {"lr": 1e-2, "batch_size": 64, "steps": 600, "eval_every": 25, "target": 0.98,
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


# --- measuring ----------------------------------------------------------------------------

def measure(names=None, *, device=None):
    """Retrain recipes from scratch in a temporary cache; return one row per recipe.

    Each row: ``name``, ``metric`` (the goal's key), ``value``, ``goal`` (the threshold),
    ``seconds`` (wall time of the whole ``pretrained`` call), ``max_seconds``, ``met``
    and ``metrics``. The user's cache is left untouched.
    """
    from llmxai.train import CACHE_ENV, known_pretrained, pretrained

    names = [n for n in known_pretrained() if n in GOALS] if names is None else list(names)
    rows = []
    before = os.environ.get(CACHE_ENV)
    with tempfile.TemporaryDirectory(prefix="llmxai-measure-") as tmp:
        os.environ[CACHE_ENV] = tmp
        try:
            for name in names:
                started = time.perf_counter()
                _, info = pretrained(name, retrain=True, device=device, return_info=True)
                wall = time.perf_counter() - started
                m, goal = info["metrics"], GOALS[name]
                rows.append({"name": name, "metric": goal.key, "value": m[goal.key], "goal": goal.value,
                             "seconds": wall, "max_seconds": goal.seconds,
                             "met": goal.met({**m, "seconds": wall}), "metrics": m})
        finally:
            if before is None:
                os.environ.pop(CACHE_ENV, None)
            else:
                os.environ[CACHE_ENV] = before
    return rows
