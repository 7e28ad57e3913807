"""Time to accuracy: equal wall-clock budgets for five search set-ups, several seeds.

    python bench/time_to_accuracy.py --budgets 600,1200 --seeds 0,1,2   # the full table
    python bench/time_to_accuracy.py --smoke                           # synthetic, 10 s

Set-ups, all on studies/fashion.py's space and data: Optuna TPE + median
pruner (tuner's default); Optuna TPE without pruning; Optuna random sampling
(median pruner); KerasTuner Hyperband; KerasTuner Bayesian. Each runs in this
process into its own temporary store with `timeout` = the budget (no trial
starts after it; the running one finishes). Reports best validation accuracy,
its test accuracy, trials started / completed / pruned, epochs trained, medians
over seeds, the epochs the pruner saves, and a best-so-far-versus-time plot.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from common import RESULTS, save, table  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

from tuner.engines.base import RunOptions  # noqa: E402
from tuner.run import run_study  # noqa: E402
from tuner.studyfile import load_study_file  # noqa: E402

STUDIES = Path(__file__).parents[1] / "studies"
SETUPS = {
    "optuna TPE + median (default)": {"engine": "optuna", "sampler": "tpe", "pruner": "median"},
    "optuna TPE no pruning": {"engine": "optuna", "sampler": "tpe", "pruner": "none"},
    "optuna random + median": {"engine": "optuna", "sampler": "random", "pruner": "median"},
    "keras-tuner hyperband": {"engine": "keras-tuner", "algorithm": "hyperband"},
    "keras-tuner bayesian": {"engine": "keras-tuner", "algorithm": "bayesian"},
}


def one_run(study_file: Path, setup: dict, budget: float, seed: int) -> dict:
    study = load_study_file(study_file)
    study = dataclasses.replace(study, baselines=(), sampler=setup.get("sampler", "tpe"),
                                pruner=setup.get("pruner", "median"))
    with tempfile.TemporaryDirectory() as folder:
        options = RunOptions(
            tracking_uri=f"sqlite:///{folder}/mlflow.db",
            storage_url=f"sqlite:///{folder}/optuna.db", n_trials=None, timeout=budget,
            seed=seed, engine=setup["engine"], algorithm=setup.get("algorithm", "hyperband"),
            keras_tuner_dir=f"{folder}/keras-tuner",
        )
        started = time.time()
        run_study(study, options)
        wall = time.time() - started
        client = MlflowClient(options.tracking_uri)
        experiment = client.get_experiment_by_name(study.name)
        runs = client.search_runs([experiment.experiment_id], "tags.`tuner.role` = 'trial'",
                                  order_by=["attributes.end_time"])
        epochs = sum(len(client.get_metric_history(r.info.run_id, "val_accuracy"))
                     for r in runs)
    best, best_test, curve = 0.0, None, []
    for r in runs:
        value = r.data.metrics.get("final_val_accuracy")
        if r.data.tags.get("tuner.state") == "COMPLETE" and value is not None and value > best:
            best, best_test = value, r.data.metrics.get("test_accuracy")
        curve.append(((r.info.end_time / 1000) - started, best))
    states = [r.data.tags.get("tuner.state") for r in runs]
    return {"seed": seed, "wall_s": wall, "best_val_accuracy": best,
            "test_accuracy_of_best": best_test, "started": len(runs),
            "completed": states.count("COMPLETE"), "pruned": states.count("PRUNED"),
            "epochs": epochs, "curve": curve}


def median(runs: list[dict], key: str) -> float:
    values = [r[key] for r in runs if r[key] is not None]
    return statistics.median(values) if values else float("nan")


def plot(results: dict, budget: float, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (name, runs), color in zip(results.items(), plt.cm.tab10.colors, strict=False):
        for i, run in enumerate(runs):
            xs = [0] + [t for t, _ in run["curve"]]
            ys = [None] + [b if b > 0 else None for _, b in run["curve"]]
            ax.step(xs, ys, where="post", color=color, alpha=0.8,
                    label=name if i == 0 else None)
    ax.axvline(budget, color="grey", linestyle="--")
    ax.set_xlabel("seconds")
    ax.set_ylabel("best validation accuracy so far")
    ax.set_title(f"Fashion-MNIST, budget {budget:.0f} s (one line per seed)")
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
    args = parser.parse_args()
    study_file = STUDIES / ("synthetic.py" if args.smoke else "fashion.py")
    budgets = [4.0] if args.smoke else [float(b) for b in args.budgets.split(",")]
    seeds = [0] if args.smoke else [int(s) for s in args.seeds.split(",")]
    names = [n.strip() for n in args.setups.split(",")]
    everything = {}
    for budget in budgets:
        results = {name: [one_run(study_file, SETUPS[name], budget, seed) for seed in seeds]
                   for name in names}
        everything[str(budget)] = results
        print(f"\nbudget {budget:.0f} s, seeds {seeds} (medians)")
        print(table(["set-up", "best val acc", "its test acc", "started", "completed",
                     "pruned", "epochs"],
                    [[name, median(runs, "best_val_accuracy"),
                      median(runs, "test_accuracy_of_best"), median(runs, "started"),
                      median(runs, "completed"), median(runs, "pruned"), median(runs, "epochs")]
                     for name, runs in results.items()]))
        pruned, unpruned = (results.get("optuna TPE + median (default)"),
                            results.get("optuna TPE no pruning"))
        if pruned and unpruned:
            per_trial = [median(r, "epochs") / max(median(r, "started"), 1)
                         for r in (pruned, unpruned)]
            print(f"pruning: {per_trial[0]:.1f} epochs per trial against {per_trial[1]:.1f} "
                  f"without, {100 * (1 - per_trial[0] / per_trial[1]):.0f}% saved; best "
                  f"{median(pruned, 'best_val_accuracy'):.4f} against "
                  f"{median(unpruned, 'best_val_accuracy'):.4f}")
        suffix = "-smoke" if args.smoke else f"-{budget:.0f}s"
        plot(results, budget, RESULTS / f"time_to_accuracy{suffix}.png")
    print("wrote", save("time_to_accuracy-smoke" if args.smoke else "time_to_accuracy",
                        {"budgets": budgets, "seeds": seeds, "results": everything}))


if __name__ == "__main__":
    main()
