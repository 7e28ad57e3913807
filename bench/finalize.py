"""What `tuner finalize` adds over the best single trial, and which method and K to default to.

    python bench/finalize.py --store DIR      # a finished search's folder (its mlruns/)
    python bench/finalize.py --search 1200    # search Fashion-MNIST first, 20 min, seed 0
    python bench/finalize.py --smoke          # the synthetic study, seconds

Two parts, on one study's stores:
1. Selection on data it did not see: the validation split is cut in two halves;
   weights are chosen on one half (the best k of the top K, their plain mean, or
   greedy selection) and scored on the other, both ways round. Also each choice's test accuracy
   without refit (the trials' own models).
2. `tuner finalize` itself, with and without refit, as a user runs it (a new
   process): its test accuracy against the best trial's, and its wall time.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import numpy as np
from common import RESULTS, SMOKE_TRIALS, save, table
from mlflow.tracking import MlflowClient

from tuner.data.prepare import prepare
from tuner.jobs.finalize import candidates as find_candidates
from tuner.jobs.finalize import study_of
from tuner.keras.ensemble import scores, select, weighted_mean
from tuner.keras.training import predict
from tuner.tracking.catalog import load_study

STUDIES = Path(__file__).parents[1] / "studies"


def cross_fit(store: Path, study_file: str, top: int) -> tuple[list[list[object]], dict]:
    """Per method and K: the unseen half's score, and the test score without refit."""
    client = MlflowClient(f"sqlite:///{store}/mlruns/mlflow.db")
    mlflow.set_tracking_uri(client.tracking_uri)
    study = study_of(client, study_file)
    prepared = prepare(study)
    candidates, _ = find_candidates(client, load_study(client, study.name), prepared, top)
    task, objective = prepared.task, prepared.settings.objective.removeprefix("val_")
    maximize = prepared.settings.direction == "maximize"
    y_val, (x_test, y_test) = prepared.data.y_val, prepared.data.splits()["test"]
    test_outputs = [predict(mlflow.keras.load_model(c.model_uri), x_test) for c in candidates]
    halves = np.array_split(np.random.default_rng(0).permutation(len(y_val)), 2)
    rows, results = [], {}
    for method in ("best-k", "mean", "greedy"):
        for k in range(1, len(candidates) + 1):
            unseen = []
            for chosen_on, scored_on in (halves, halves[::-1]):
                outputs = [c.val_outputs[chosen_on] for c in candidates[:k]]
                weights = select(
                    outputs,
                    lambda o, rows=chosen_on: scores(task, y_val[rows], o)[objective],
                    maximize=maximize,
                    method=method,
                )
                mean = weighted_mean([c.val_outputs[scored_on] for c in candidates[:k]], weights)
                unseen.append(scores(task, y_val[scored_on], mean)[objective])
            weights = select(
                [c.val_outputs for c in candidates[:k]],
                lambda o: scores(task, y_val, o)[objective],
                maximize=maximize,
                method=method,
            )
            test = scores(task, y_test, weighted_mean(test_outputs[:k], weights))[objective]
            results[f"{method}-{k}"] = {
                "unseen_half": float(np.mean(unseen)),
                "test": test,
                "weights": weights.tolist(),
            }
            rows.append(
                [method, k, float(np.mean(unseen)), test, " ".join(f"{w:.2f}" for w in weights)]
            )
    return rows, results


def finalize_cli(store: Path, study_file: str, *extra: str) -> dict[str, object]:
    """`tuner finalize` in a new process; its printed scores and its wall time."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "tuner.cli", "finalize", study_file, *extra],
        cwd=store,
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - started
    found = dict(re.findall(r"^\s+(test_\w+|val_\w+)\s+([\d.]+)", done.stdout, re.M))
    single = dict(
        re.findall(
            r"^\s+(test_\w+|val_\w+)\s+[\d.]+ \(best trial \S+: ([\d.]+)\)", done.stdout, re.M
        )
    )
    print(done.stdout, flush=True)
    return {
        "seconds": seconds,
        "scores": {k: float(v) for k, v in found.items()},
        "best_trial": {k: float(v) for k, v in single.items()},
    }


def search(store: Path, study_file: Path, budget: list[str]) -> None:
    """`tuner run` in a new store, ``budget`` its options (``--timeout S`` or ``--trials N``)."""
    shutil.rmtree(store, ignore_errors=True)
    store.mkdir(parents=True)
    subprocess.run(
        [sys.executable, "-m", "tuner.cli", "run", str(study_file), *budget, "--no-progress"],
        cwd=store,
        check=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--store", type=Path, help="a folder where `tuner run` has run")
    parser.add_argument("--search", type=float, help="search this many seconds first")
    parser.add_argument("--study", type=Path, help="the study file [default: fashion's]")
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args()
    study_file = args.study or STUDIES / ("synthetic.py" if args.smoke else "fashion.py")
    name = str(study_file.resolve())  # tuner finalize takes a study file as well as a name
    store = args.store or RESULTS / ("finalize-smoke" if args.smoke else "finalize")
    if args.smoke or args.search:
        search(
            store,
            study_file,
            ["--trials", str(SMOKE_TRIALS)]
            if args.smoke
            else ["--timeout", str(args.search), "--trials", "100000"],
        )
    rows, selection = cross_fit(store.resolve(), name, args.top)
    print(
        table(
            [
                "method",
                "K",
                "chosen on one half, scored on the other",
                "test (no refit)",
                "weights",
            ],
            rows,
        )
    )
    runs = {"refit": finalize_cli(store, name), "no refit": finalize_cli(store, name, "--no-refit")}
    print(
        table(
            ["finalize", "test score", "best trial's", "seconds"],
            [
                [
                    label,
                    *(next(iter(r[k].values()), float("nan")) for k in ("scores", "best_trial")),
                    r["seconds"],
                ]
                for label, r in runs.items()
            ],
        )
    )
    label = "finalize-smoke" if args.smoke else "finalize"
    print(
        "wrote", save(label, {"study": study_file.stem, "selection": selection, "finalize": runs})
    )


if __name__ == "__main__":
    main()
