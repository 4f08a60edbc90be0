"""Training section: every recipe of ``llmxai.recipes`` trained from scratch, timed, and its goal
metric checked against the goal of RECIPES.md (2-core CPU, fresh cache)."""

import contextlib
import os
import tempfile
import time

from dataclasses import dataclass


@dataclass
class Goal:
    name: str
    metric: str  # key of info["metrics"]
    at_least: float = None  # the metric must be >= this ...
    at_most: float = None  # ... or <= this
    relative_to: str = None  # ... where at_most scales this other metric (e.g. a ratio of losses)
    seconds: float = None

    def target(self, metrics):
        scale = metrics.get(self.relative_to, float("nan")) if self.relative_to else 1.0
        return (self.at_least * scale, ">=") if self.at_least is not None else (self.at_most * scale, "<=")


GOALS = (
    Goal("sentiment_lstm", "test_accuracy", at_least=0.97, seconds=30),
    Goal("sentiment_transformer", "test_accuracy", at_least=0.97, seconds=30),
    Goal("text_cnn", "test_accuracy", at_least=0.97, seconds=20),
    Goal("date_seq2seq", "test_exact_match", at_least=0.95, seconds=45),
    Goal("tiny_gpt", "val_loss", at_most=1.0, relative_to="unigram_loss", seconds=40),
    Goal("induction", "repeated_loss", at_most=0.30, relative_to="first_half_loss", seconds=50),
    Goal("digits_cnn", "test_accuracy", at_least=0.95, seconds=20),
)


@contextlib.contextmanager
def _cache_in(folder):
    """Point ``LLMXAI_CACHE`` at ``folder`` for the duration, so no user cache is read or replaced."""
    old = os.environ.get("LLMXAI_CACHE")
    os.environ["LLMXAI_CACHE"] = folder
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("LLMXAI_CACHE", None)
        else:
            os.environ["LLMXAI_CACHE"] = old


def training(device, quick):
    if quick:
        print("training: skipped with --quick (each recipe trains for up to a minute)", flush=True)
        return
    try:
        import llmxai.recipes  # noqa: F401  (registers the recipes)
    except ImportError as err:
        print(f"training: skipped, llmxai.recipes is not available ({err})", flush=True)
        return
    from llmxai.train import known_pretrained, pretrained

    known = known_pretrained()
    with tempfile.TemporaryDirectory(prefix="llmxai-bench-") as folder, _cache_in(folder):
        for goal in GOALS:
            row = dict(table="training", model=goal.name, metric=goal.metric, value=None, goal=None, met=None,
                       seconds=None, seconds_goal=goal.seconds, seconds_met=None)
            if goal.name not in known:
                print(f"training: no recipe named {goal.name!r} (known: {known})", flush=True)
                yield row
                continue
            print(f"training: {goal.name} ...", flush=True)
            start = time.perf_counter()
            _, info = pretrained(goal.name, retrain=True, device=device, return_info=True)
            row["seconds"] = time.perf_counter() - start
            metrics = info["metrics"]
            if goal.metric not in metrics:
                print(f"training: {goal.name} reports no {goal.metric!r}; its metrics are {sorted(metrics)}",
                      flush=True)
            else:
                value, (limit, op) = metrics[goal.metric], goal.target(metrics)
                row.update(value=value, goal=f"{op} {limit:.4g}",
                           met=value >= limit if op == ">=" else value <= limit)
            row["seconds_met"] = row["seconds"] <= goal.seconds
            yield row
