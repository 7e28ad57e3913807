"""Time to accuracy: tuner's default search against three anchors a user could write instead.

    python bench/time_to_accuracy.py --budgets 300,600,1200 --seeds 0,1,2   # Fashion, hours
    python bench/time_to_accuracy.py --study digits --budgets 60,120       # an offline study
    python bench/time_to_accuracy.py --variant wide=my_study.py             # screen a space
    python bench/time_to_accuracy.py --smoke                                # seconds

Set-ups, interleaved seed by seed, on the same data and split and the same
wall budget (the searches with the study file's maximum epochs and patience):
- ``tuner``: ``tuner run studies/STUDY.py --seed S`` as a user runs it, in a
  new process, start-up included;
- ``hand-made optuna``: handmade_optuna.py, an Optuna TPE + MedianPruner +
  KerasPruningCallback loop as Optuna's Keras example writes it;
- ``keras-tuner hyperband``: keras_tuner_hyperband.py, KerasTuner's Hyperband
  through its own ``search``;
- ``expert mlp``: expert_mlp.py, one hand-designed modern MLP (2x1024,
  BatchNorm, dropout, AdamW, cosine, label smoothing), no search, trained for
  the epochs that fit the budget (at most 40);
- each ``--variant NAME=FILE``: ``tuner run FILE`` (a candidate space).

Each (budget, set-up, seed) is a search of its own, told its budget (tuner's
``--timeout`` plans each trial's epochs by it) and killed ``GRACE_S`` after
it; only trials that ended within the budget, timed from the process's
launch, count. Each keeps its files under
bench/results/time_to_accuracy-STUDY/, so an interrupted benchmark resumes.
Reports, per budget, medians over seeds of the best validation accuracy, that
trial's test accuracy and the trials finished, and plots best-so-far against time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from common import RESULTS, save, table  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

BENCH = Path(__file__).parent
STUDIES = BENCH.parent / "studies"
ANCHORS = {
    "hand-made optuna": "handmade_optuna.py",
    "keras-tuner hyperband": "keras_tuner_hyperband.py",
    "expert mlp": "expert_mlp.py",
}
GRACE_S = 60  # after the budget, for the last trial's logging; its trial does not count


def command(
    setup: str, study_file: Path, seed: int, folder: Path, launched: float, budget: float
) -> list[str]:
    if setup in ANCHORS:
        return [
            sys.executable,
            str(BENCH / ANCHORS[setup]),
            study_file.stem,
            str(seed),
            str(folder),
            str(launched),
            str(budget),
        ]
    return [
        sys.executable,
        "-m",
        "tuner.cli",
        "run",
        str(study_file),
        "--seed",
        str(seed),
        "--timeout",
        str(budget),
        "--trials",
        "100000",
        "--no-progress",
        "--study-name",
        "bench",
    ]


def search(
    setup: str, study_file: Path, seed: int, folder: Path, budget: float, grace: float = GRACE_S
) -> None:
    """One search in ``folder``, killed ``grace`` seconds after ``budget`` from its launch."""
    launched = time.time()
    (folder / "launched").write_text(str(launched))
    with (folder / "output.log").open("w") as log:
        process = subprocess.Popen(
            command(setup, study_file, seed, folder, launched, budget),
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(BENCH)},
        )
        try:
            process.wait(timeout=budget + grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def trials_of(setup: str, folder: Path) -> list[dict]:
    """Every finished trial: end time since launch, state, validation and test accuracy."""
    if setup in ANCHORS:
        path = folder / "trials.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    launched = float((folder / "launched").read_text())
    client = MlflowClient(f"sqlite:///{folder}/mlruns/mlflow.db")
    experiment = client.get_experiment_by_name("bench")
    if experiment is None:
        return []
    found = []
    for run in client.search_runs(
        [experiment.experiment_id], "tags.`tuner.role` = 'trial'", max_results=5000
    ):
        state = run.data.tags.get("tuner.state")
        if state not in ("COMPLETE", "PRUNED", "FAIL") or run.info.end_time is None:
            continue
        found.append(
            {
                "end_s": run.info.end_time / 1000 - launched,
                "state": state,
                "val": run.data.metrics.get("final_val_accuracy"),
                "test": run.data.metrics.get("test_accuracy"),
                "epochs": int(run.data.metrics.get("epochs_trained", 0)),
            }
        )
    return found


def at_budgets(trials: list[dict], budgets: list[float]) -> dict:
    trials = sorted(trials, key=lambda t: t["end_s"])
    best, curve = 0.0, []
    for t in trials:
        if t["state"] == "COMPLETE" and t["val"] is not None and t["val"] > best:
            best = t["val"]
        curve.append((t["end_s"], best))
    per_budget = {}
    for budget in budgets:
        ended = [t for t in trials if t["end_s"] <= budget]
        complete = [t for t in ended if t["state"] == "COMPLETE" and t["val"] is not None]
        top = max(complete, key=lambda t: t["val"], default=None)
        per_budget[str(budget)] = {
            "best_val_accuracy": top["val"] if top else None,
            "test_accuracy_of_best": top["test"] if top else None,
            "completed": len(complete),
            "pruned": sum(t["state"] == "PRUNED" for t in ended),
        }
    return {"budgets": per_budget, "curve": curve}


def median(values: list) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def plot(runs: dict[str, list[dict]], budgets: list[float], title: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (name, seeds), color in zip(runs.items(), plt.cm.tab10.colors, strict=False):
        for i, run in enumerate(seeds):
            points = [(t, b) for t, b in run["curve"] if t <= max(budgets) and b > 0]
            if points:
                xs, ys = zip(*points, strict=True)
                ax.step(
                    xs,
                    ys,
                    where="post",
                    color=color,
                    alpha=0.8,
                    marker="o",
                    markersize=3,
                    label=name if i == 0 else None,
                )
    for budget in budgets:
        ax.axvline(budget, color="grey", linestyle="--")
    ax.set_xlabel("seconds since the search's process was launched")
    ax.set_ylabel("best validation accuracy so far")
    ax.set_title(f"{title}: best so far, one line per seed")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--study", default="fashion", help="a study of studies/")
    parser.add_argument("--budgets", default="300,600,1200", help="seconds, comma-separated")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--setups", default=",".join(["tuner", *ANCHORS]))
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="also run `tuner run FILE` as set-up NAME",
    )
    args = parser.parse_args()
    study = "synthetic" if args.smoke else args.study
    budgets = [12.0, 24.0] if args.smoke else [float(b) for b in args.budgets.split(",")]
    seeds = [0] if args.smoke else [int(s) for s in args.seeds.split(",")]
    files = {name: STUDIES / f"{study}.py" for name in args.setups.split(",")}
    files.update(
        {name: Path(file).resolve() for name, file in (v.split("=", 1) for v in args.variant)}
    )
    label = f"time_to_accuracy-{study}" + ("-smoke" if args.smoke else "")
    root = RESULTS / label
    runs: dict[str, list[dict]] = {name: [] for name in files}
    for seed in seeds:  # seed-major, so the machine's drift spreads over every set-up
        for name, study_file in files.items():
            per_budget: dict = {"budgets": {}, "curve": []}
            for budget in budgets:
                folder = root / f"{budget:.0f}s-seed{seed}-{name.replace(' ', '_')}"
                if not (folder / "done").exists():
                    shutil.rmtree(folder, ignore_errors=True)
                    folder.mkdir(parents=True)
                    search(
                        name, study_file, seed, folder, budget, grace=2.0 if args.smoke else GRACE_S
                    )
                    (folder / "done").touch()
                    print(f"{budget:.0f} s, seed {seed}, {name}: done", flush=True)
                found = at_budgets(trials_of(name, folder), [budget])
                per_budget["budgets"].update(found["budgets"])
                per_budget["curve"] = found["curve"]  # the longest budget's
            runs[name].append({"seed": seed, **per_budget})
    for budget in budgets:
        key = str(budget)
        print(f"\n{study}, budget {budget:.0f} s, seeds {seeds} (medians)")
        print(
            table(
                [
                    "set-up",
                    "best val acc",
                    "its test acc",
                    "completed",
                    "pruned",
                    "best val acc per seed",
                ],
                [
                    [
                        name,
                        *(
                            median([r["budgets"][key][k] for r in seed_runs])
                            for k in (
                                "best_val_accuracy",
                                "test_accuracy_of_best",
                                "completed",
                                "pruned",
                            )
                        ),
                        " / ".join(
                            f"{r['budgets'][key]['best_val_accuracy'] or 0:.4f}" for r in seed_runs
                        ),
                    ]
                    for name, seed_runs in runs.items()
                ],
            )
        )
    plot(runs, budgets, study, RESULTS / f"{label}.png")
    print(
        "wrote", save(label, {"study": study, "budgets": budgets, "seeds": seeds, "results": runs})
    )


if __name__ == "__main__":
    main()
