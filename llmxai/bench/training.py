"""Training section: every recipe of ``llmxai.recipes`` retrained from scratch in a temporary
cache by ``llmxai.recipes.measure``, against the goals in ``llmxai.recipes.GOALS``."""


def training(device, quick):
    if quick:
        print("training: skipped with --quick (each recipe trains for up to a minute)", flush=True)
        return
    try:
        from llmxai.recipes import GOALS, measure
    except ImportError as err:
        print(f"training: skipped, llmxai.recipes (the pretrained recipes) is not available ({err})", flush=True)
        return
    for name, goal in GOALS.items():
        print(f"training: {name} ...", flush=True)
        (r,) = measure([name], device=device)
        op = "<=" if goal.lower else ">="
        met = r["value"] <= r["goal"] if goal.lower else r["value"] >= r["goal"]
        yield dict(table="training", model=name, metric=r["metric"], value=r["value"], goal=f"{op} {r['goal']:g}",
                   met=met, seconds=r["seconds"], seconds_goal=r["max_seconds"],
                   seconds_met=r["seconds"] <= r["max_seconds"])
