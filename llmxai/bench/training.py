"""Training section: every shared model retrained from scratch, in a temporary cache, against its goal.

:data:`GOALS` states each recipe's goal; :func:`goal_met` checks a recipe's metrics against
it; :func:`measure` retrains recipes and reports the numbers. The test suite uses the same
goals to check that a retrained recipe still reaches them (its metrics, not its bits).
"""

import math
import os
import tempfile
import time
from dataclasses import dataclass

from llmxai.pretrained import CACHE_ENV, known_pretrained, pretrained


@dataclass(frozen=True)
class Goal:
    """A recipe's goal: ``metrics[key] >= value`` (or ``<=`` when ``lower`` is true) within ``seconds``,
    and ``metrics[k] >= v`` for each ``(k, v)`` in ``also``."""

    key: str
    value: float
    seconds: float
    lower: bool = False
    also: tuple = ()

    def met(self, metrics):
        v = metrics.get(self.key)
        if v is None:
            return False
        ok = v <= self.value if self.lower else v >= self.value
        ok = ok and all(metrics.get(k) is not None and metrics[k] >= floor for k, floor in self.also)
        return bool(ok and metrics.get("seconds", math.inf) <= self.seconds)


GOALS = {
    "sentiment_lstm": Goal("test_accuracy", 0.97, 30),
    "sentiment_transformer": Goal("test_accuracy", 0.97, 30),
    "text_cnn": Goal("test_accuracy", 0.97, 20),
    "date_seq2seq": Goal("exact_match", 0.95, 45),
    "tiny_gpt": Goal("val_loss_ratio", 0.7, 40, lower=True),
    "induction": Goal("repeated_ratio", 0.3, 50, lower=True,
                      also=(("induction_score", 0.5), ("prev_token_score", 0.5))),
    "digits_cnn": Goal("test_accuracy", 0.95, 20),
    "agreement_transformer": Goal("test_accuracy", 0.95, 60),
    # high accuracy where the planted tag keeps its training correlation, far lower where it is reversed
    "sentiment_shortcut": Goal("test_accuracy", 0.93, 30, also=(("shortcut_gap", 0.5),)),
}


def goal_met(name, metrics):
    """Whether ``metrics`` (a recipe's metrics dict) meet the goal of recipe ``name``."""
    if name not in GOALS:
        raise ValueError(f"name: expected one of {sorted(GOALS)}, got {name!r}")
    return GOALS[name].met(metrics)


def measure(names=None, *, device=None):
    """Retrain recipes from scratch in a temporary cache; return one row per recipe.

    Each row: ``name``, ``metric`` (the goal's key), ``value``, ``goal`` (the threshold),
    ``seconds`` (wall time of the whole ``pretrained`` call), ``max_seconds``, ``met``
    and ``metrics``. The user's cache is left untouched.
    """
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


def training(device, quick):
    if quick:
        print("training: skipped with --quick (each recipe trains for up to a minute)", flush=True)
        return
    for name, goal in GOALS.items():
        print(f"training: {name} ...", flush=True)
        (r,) = measure([name], device=device)
        op = "<=" if goal.lower else ">="
        met = r["value"] <= r["goal"] if goal.lower else r["value"] >= r["goal"]
        yield dict(table="training", model=name, metric=r["metric"], value=r["value"], goal=f"{op} {r['goal']:g}",
                   met=met, seconds=r["seconds"], seconds_goal=r["max_seconds"],
                   seconds_met=r["seconds"] <= r["max_seconds"])
