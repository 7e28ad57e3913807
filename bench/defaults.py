"""The default search against a plain one on the small bundled studies, same wall time.

    python bench/defaults.py --timeout 90 --seeds 0,1     # ~25 min
    python bench/defaults.py --smoke                      # 2 trials a search

Set-ups, each ``tuner.run(STUDY, timeout=T, seed=S)`` in a new process with
stores of its own, interleaved study by study:
- ``defaults``: the study file as it is: tuner's portfolio first, the default
  space's regularization dimensions (weight decay, cosine, BatchNorm,
  dropout, label smoothing) searched, trials planned to the deadline;
- ``plain``: the same study with ``portfolio=False`` and those dimensions
  fixed at their neutral values (no weight decay, a constant rate, no
  normalization, no dropout, no smoothing).

Reports the best trial's test metric (accuracy, or MAE for regression) per
study: the median over seeds, and each seed's; and each portfolio
configuration's own test metric in the ``defaults`` searches (its trial,
tagged ``tuner.portfolio``), the measurement behind the portfolio's order.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from common import RESULTS, SMOKE_TRIALS, save, table
from mlflow.tracking import MlflowClient

import tuner
from tuner.core.studyfile import load_study_file

BENCH = Path(__file__).parent
STUDIES = ("digits", "churn", "penguins", "diabetes")
PLAIN = {
    "weight_decay": 0.0,
    "lr_schedule": "constant",
    "normalization": "none",
    "dropout": 0.0,
    "label_smoothing": 0.0,
}


def one(
    study_name: str, setup: str, seed: int, timeout: float | None, trials: int | None, folder: Path
) -> None:
    """Run one search of ``timeout`` seconds or ``trials`` trials in ``folder`` (the child
    process) and write ``result.json``."""
    study = load_study_file(BENCH.parent / "studies" / f"{study_name}.py")
    if setup == "plain":
        study = dataclasses.replace(
            study, portfolio=False, space=dataclasses.replace(study.space, **PLAIN)
        )
    os.chdir(folder)
    result = tuner.run(
        study, timeout=timeout, trials=trials, seed=seed, progress=False, verbose=False
    )
    client = MlflowClient(result.tracking_uri)
    metrics = client.get_run(result.best_run_id).data.metrics
    key = "test_accuracy" if "test_accuracy" in metrics else "test_mae"
    experiment = client.get_experiment_by_name(result.study_name)
    portfolio = {
        r.data.tags["tuner.portfolio"]: r.data.metrics.get(key)
        for r in client.search_runs([experiment.experiment_id], "tags.`tuner.portfolio` != ''")
    }
    (folder / "result.json").write_text(
        json.dumps(
            {
                "metric": key,
                "test": metrics.get(key),
                "states": result.states,
                "portfolio": portfolio,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--timeout", type=float, default=90)
    parser.add_argument("--trials", type=int, help="a budget in trials instead of seconds")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--studies", default=",".join(STUDIES), help="comma-separated")
    parser.add_argument(
        "--one", nargs=4, metavar=("STUDY", "SETUP", "SEED", "FOLDER"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.one:
        study_name, setup, seed, folder = args.one
        one(
            study_name,
            setup,
            int(seed),
            None if args.trials else args.timeout,
            args.trials,
            Path(folder),
        )
        return
    studies = ("synthetic",) if args.smoke else tuple(args.studies.split(","))
    trials = SMOKE_TRIALS if args.smoke else args.trials
    budget = ["--trials", str(trials)] if trials else ["--timeout", str(args.timeout)]
    seeds = [0] if args.smoke else [int(s) for s in args.seeds.split(",")]
    label = "defaults" + ("-smoke" if args.smoke else "")
    found: dict[str, dict[str, list[dict]]] = {}
    for seed in seeds:
        for study_name in studies:
            for setup in ("plain", "defaults"):
                folder = RESULTS / label / f"{study_name}-{setup}-seed{seed}"
                if not (folder / "result.json").exists():
                    folder.mkdir(parents=True, exist_ok=True)
                    subprocess.run(
                        [
                            sys.executable,
                            __file__,
                            *budget,
                            "--one",
                            study_name,
                            setup,
                            str(seed),
                            str(folder),
                        ],
                        check=True,
                        capture_output=True,
                    )
                result = json.loads((folder / "result.json").read_text())
                found.setdefault(study_name, {}).setdefault(setup, []).append(result)
                print(f"{study_name}, {setup}, seed {seed}: {result}", flush=True)
    rows = []
    for study_name, setups in found.items():
        metric = setups["defaults"][0]["metric"]
        cells = [study_name, metric]
        for setup in ("plain", "defaults"):
            values = [r["test"] for r in setups[setup]]
            cells += [statistics.median(values), " / ".join(f"{v:.4f}" for v in values)]
        rows.append(cells)
    per_search = f"{trials} trials" if trials else f"{args.timeout:.0f} s"
    print(f"\nbest trial's test metric, {per_search} per search, seeds {seeds}")
    print(
        table(
            [
                "study",
                "metric",
                "plain (median)",
                "plain per seed",
                "defaults (median)",
                "defaults per seed",
            ],
            rows,
        )
    )
    print("\neach portfolio configuration's test metric in the defaults searches (median)")
    numbers = sorted(
        {n for setups in found.values() for r in setups["defaults"] for n in r["portfolio"]}
    )
    print(
        table(
            ["study", "metric", *(f"#{n}" for n in numbers)],
            [
                [
                    study_name,
                    setups["defaults"][0]["metric"],
                    *(
                        statistics.median(
                            [
                                r["portfolio"][n]
                                for r in setups["defaults"]
                                if r["portfolio"].get(n) is not None
                            ]
                            or [float("nan")]
                        )
                        for n in numbers
                    ),
                ]
                for study_name, setups in found.items()
            ],
        )
    )
    print(
        "wrote",
        save(
            label,
            {
                "timeout": None if trials else args.timeout,
                "trials": trials,
                "seeds": seeds,
                "results": found,
            },
        ),
    )


if __name__ == "__main__":
    main()
