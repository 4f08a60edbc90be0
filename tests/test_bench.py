import json

import pytest

from llmxai import bench
from llmxai.bench import training


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "rows.json"
    sections = [s for s in bench.SECTIONS if s != "training"]
    rows = bench.main(["--quick", "--device", "cpu", "--only", ",".join(sections), "--json", str(path)])
    return rows, json.loads(path.read_text())


def test_quick_run_covers_every_section_but_training_with_positive_numbers(quick):
    rows, _ = quick
    kinds = {r["table"] for r in rows}
    assert kinds == {"speed", "memory", "quality"}
    speed = [r for r in rows if r["table"] == "speed"]
    assert all(r["ours_ms"] > 0 and r["ref_ms"] > 0 and r["ratio"] > 0 for r in speed)
    cases = " ".join(r["case"] for r in speed)
    for name in ("attention", "LSTM", "MultiHeadAttention", "Adam", "CP-LRP", "AttnLRP", "IG", "Grad-CAM"):
        assert name in cases
    assert {r["goal"] for r in speed} >= {1.3, 2.0, 1.5, 1.0}
    memory = [r for r in rows if r["table"] == "memory"]
    assert len(memory) == 3 and all(r["ours_mb"] is None or r["ours_mb"] >= 0 for r in memory)
    quality = [r for r in rows if r["table"] == "quality"]
    assert {r["model"] for r in quality} == {"LSTM", "Transformer"}
    for r in quality:
        assert 0 <= r["auc"] <= 1 and r["seconds"] >= 0 and r["n"] > 0
    methods = {r["method"] for r in quality}
    assert "random baseline" in methods and "AttnLRP" in methods and "attention rollout" in methods


def test_tables_and_json_hold_the_rows(quick, capsys):
    rows, saved = quick
    assert saved["rows"] == json.loads(json.dumps(rows, default=float))
    assert saved["meta"]["quick"] is True and saved["meta"]["devices"] == ["cpu"]
    text = bench.format_tables(rows)
    for header in ("ours ms", "reference ms", "ratio", "met?", "AUC", "AOPC"):
        assert header in text
    # Each speed row's verdict follows its own ratio and goal.
    for r in (r for r in rows if r["table"] == "speed" and r["goal"] is not None):
        line = next(line for line in text.splitlines() if r["device"] in line and r["case"] in line and r["reference"] in line)
        assert line.rstrip().endswith("met" if r["ratio"] <= r["goal"] else "MISSED"), line


def test_quick_skips_training_with_a_message(capsys):
    assert list(training.training(None, quick=True)) == []
    assert "skipped" in capsys.readouterr().out


def test_unknown_section_is_refused(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--only", "nonsense"])
    assert "unknown section" in capsys.readouterr().err


def test_unknown_device_is_refused(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--device", "tpu", "--only", "adam"])
    assert "expected device" in capsys.readouterr().err


def test_speed_group_expands_to_the_speed_sections():
    parser = bench.argparse.ArgumentParser()
    assert bench._sections("speed,quality", parser) == bench.GROUPS["speed"] + ["quality"]


def test_training_rows_come_from_the_recipes_measure(monkeypatch, capsys):
    import types
    from dataclasses import dataclass

    @dataclass
    class Goal:
        key: str
        value: float
        seconds: float
        lower: bool = False

    fake = types.SimpleNamespace()
    fake.GOALS = {"fast": Goal("test_accuracy", 0.97, 30), "lm": Goal("val_loss_ratio", 0.7, 40, lower=True)}
    values = {"fast": (0.99, 12.0), "lm": (0.8, 50.0)}

    def measure(names, device=None):
        (name,) = names
        v, s = values[name]
        g = fake.GOALS[name]
        return [{"name": name, "metric": g.key, "value": v, "goal": g.value, "seconds": s, "max_seconds": g.seconds}]

    monkeypatch.setattr(training, "GOALS", fake.GOALS)
    monkeypatch.setattr(training, "measure", measure)
    rows = list(training.training("cpu", quick=False))
    assert [(r["model"], r["met"], r["seconds_met"]) for r in rows] == [("fast", True, True), ("lm", False, False)]
    assert rows[1]["goal"] == "<= 0.7"
    text = bench.format_tables(rows)
    assert "val_loss_ratio" in text and "MISSED" in text and "training: fast" in capsys.readouterr().out


def test_threads_must_be_positive(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--threads", "0", "--only", "adam"])
    assert "--threads" in capsys.readouterr().err
