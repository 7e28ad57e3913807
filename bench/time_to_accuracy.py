"""Time to accuracy: equal wall-clock budgets for five search set-ups, several seeds.

    python bench/time_to_accuracy.py --budgets 600,1200 --seeds 0,1,2   # the full table
    python bench/time_to_accuracy.py --smoke                           # synthetic, seconds

Set-ups, all on studies/fashion.py's space and data (its baseline left out):
Optuna TPE + median pruner (tuner's default); Optuna TPE without pruning;
Optuna random sampling (median pruner); KerasTuner Hyperband; KerasTuner
Bayesian. Each (set-up, seed) is one search of the largest budget in a child
process, stopped hard when that budget is spent; every smaller budget is read
off the same search (the trials that had ended by then), which is what a
search with that timeout would have done, since no set-up's choices depend on
the timeout. Each search keeps its stores under bench/results/time_to_accuracy/,
so an interrupted benchmark resumes where it stopped. The clock starts when the
search's parent run opens (data loaded). Reports medians over seeds of best
validation accuracy, its test accuracy, trials started / completed / pruned
and epochs trained, the epochs the pruner saves, and best-so-far-versus-time.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import statistics
import subprocess
import sys
import threading
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from common import RESULTS, save, table  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

STUDIES = Path(__file__).parents[1] / "studies"
SETUPS = {
    "optuna TPE + median (default)": {"engine": "optuna", "sampler": "tpe", "pruner": "median"},
    "optuna TPE no pruning": {"engine": "optuna", "sampler": "tpe", "pruner": "none"},
    "optuna random + median": {"engine": "optuna", "sampler": "random", "pruner": "median"},
    "keras-tuner hyperband": {"engine": "keras-tuner", "algorithm": "hyperband"},
    "keras-tuner bayesian": {"engine": "keras-tuner", "algorithm": "bayesian"},
}
SETUP_GRACE_S = 60  # data loading and store creation, before the clock starts


def search(study_file: Path, setup: dict, budget: float, seed: int, folder: Path) -> None:
    """One search into ``folder``'s stores; the process ends when the budget is spent."""
    from tuner.engines.base import RunOptions
    from tuner.run import run_study
    from tuner.studyfile import load_study_file

    study = load_study_file(study_file)
    study = dataclasses.replace(study, baselines=(), seed=seed, sampler=setup.get("sampler", "tpe"),
                                pruner=setup.get("pruner", "median"))
    options = RunOptions(
        tracking_uri=f"sqlite:///{folder}/mlflow.db", storage_url=f"sqlite:///{folder}/optuna.db",
        n_trials=None, timeout=budget, engine=setup["engine"],
        algorithm=setup.get("algorithm", "hyperband"), keras_tuner_dir=f"{folder}/keras-tuner")
    # A trial running when the budget ends cannot count, so do not wait for it.
    threading.Timer(budget + SETUP_GRACE_S, os._exit, (0,)).start()
    run_study(study, options)
    os._exit(0)


def read_search(folder: Path, budgets: list[float], study_name: str) -> dict[str, dict]:
    """Per budget: what had ended by then, read from the search's MLflow store."""
    client = MlflowClient(f"sqlite:///{folder}/mlflow.db")
    experiment = client.get_experiment_by_name(study_name)
    parent = client.search_runs([experiment.experiment_id], "tags.`tuner.role` = 'study'")[0]
    t0 = parent.info.start_time / 1000
    trials, starts = [], []
    for r in client.search_runs([experiment.experiment_id], "tags.`tuner.role` = 'trial'"):
        starts.append(r.info.start_time / 1000 - t0)
        if r.data.tags.get("tuner.state") not in ("COMPLETE", "PRUNED", "FAIL"):
            continue  # the trial the hard stop cut short
        trials.append({"end_s": r.info.end_time / 1000 - t0,
                       "state": r.data.tags["tuner.state"],
                       "val": r.data.metrics.get("final_val_accuracy"),
                       "test": r.data.metrics.get("test_accuracy"),
                       "epochs": len(client.get_metric_history(r.info.run_id, "val_accuracy"))})
    trials.sort(key=lambda t: t["end_s"])
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
            "started": sum(start <= budget for start in starts),
            "completed": len(complete),
            "pruned": sum(t["state"] == "PRUNED" for t in ended),
            "epochs": sum(t["epochs"] for t in ended)}
    return {"budgets": per_budget, "curve": curve}


def median(values: list) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def plot(runs: dict[str, list[dict]], budgets: list[float], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (name, seeds), color in zip(runs.items(), plt.cm.tab10.colors, strict=False):
        for i, run in enumerate(seeds):
            xs = [0] + [t for t, _ in run["curve"] if t <= max(budgets)]
            ys = [None] + [b if b > 0 else None for t, b in run["curve"] if t <= max(budgets)]
            ax.step(xs, ys, where="post", color=color, alpha=0.8,
                    label=name if i == 0 else None)
    for budget in budgets:
        ax.axvline(budget, color="grey", linestyle="--")
    ax.set_xlabel("seconds since the search started")
    ax.set_ylabel("best validation accuracy so far")
    ax.set_title("Fashion-MNIST: best so far, one line per seed")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--budgets", default="600,1200", help="seconds, comma-separated")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--setups", default=",".join(SETUPS),
                        help="comma-separated names from: " + ", ".join(SETUPS))
    parser.add_argument("--child", nargs=3, metavar=("SETUP", "SEED", "FOLDER"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    study_file = STUDIES / ("synthetic.py" if args.smoke else "fashion.py")
    budgets = [3.0, 6.0] if args.smoke else [float(b) for b in args.budgets.split(",")]
    if args.child:
        name, seed, folder = args.child
        search(study_file, SETUPS[name], max(budgets), int(seed), Path(folder))
    seeds = [0] if args.smoke else [int(s) for s in args.seeds.split(",")]
    names = [n.strip() for n in args.setups.split(",")]
    label = "time_to_accuracy-smoke" if args.smoke else "time_to_accuracy"
    root = RESULTS / label
    runs: dict[str, list[dict]] = {name: [] for name in names}
    for seed in seeds:  # seed-major, so the machine's drift spreads over every set-up
        for name in names:
            folder = root / f"{max(budgets):.0f}s-seed{seed}-setup{list(SETUPS).index(name)}"
            if not (folder / "done").exists():
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir(parents=True)
                command = [sys.executable, __file__, "--child", name, str(seed), str(folder),
                           "--budgets", ",".join(map(str, budgets))]
                subprocess.run(command + (["--smoke"] if args.smoke else []), check=True)
                (folder / "done").touch()
                print(f"seed {seed}, {name}: done", flush=True)
            runs[name].append({"seed": seed, **read_search(folder, budgets, study_file.stem)})
    for budget in budgets:
        key = str(budget)
        print(f"\nbudget {budget:.0f} s, seeds {seeds} (medians)")
        print(table(["set-up", "best val acc", "its test acc", "started", "completed",
                     "pruned", "epochs"],
                    [[name] + [median([r["budgets"][key][k] for r in seeds_runs]) for k in (
                        "best_val_accuracy", "test_accuracy_of_best", "started", "completed",
                        "pruned", "epochs")] for name, seeds_runs in runs.items()]))
        pruned, unpruned = (runs.get("optuna TPE + median (default)"),
                            runs.get("optuna TPE no pruning"))
        if pruned and unpruned:
            per_trial = [median([b["epochs"] / max(b["completed"] + b["pruned"], 1)
                                 for b in (r["budgets"][key] for r in side)])
                         for side in (pruned, unpruned)]
            saved = (f"{100 * (1 - per_trial[0] / per_trial[1]):.0f}% saved" if per_trial[1]
                     else "no trial without pruning ended within the budget")
            print(f"pruning: {per_trial[0]:.1f} epochs per trial against {per_trial[1]:.1f} "
                  f"without, {saved}")
    plot(runs, budgets, RESULTS / f"{label}.png")
    print("wrote", save(label, {"budgets": budgets, "seeds": seeds, "results": runs}))


if __name__ == "__main__":
    main()
