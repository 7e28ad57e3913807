"""Where a whole `tuner run` spends its time, as a user runs it; before/after two checkouts.

    python bench/run_phases.py --studies synthetic.py:8 --rounds 3
    python bench/run_phases.py --code before=/tmp/old-checkout,after=.   # alternating
    python bench/run_phases.py --smoke      # synthetic.py x 2, one round

Each run is `python -m tuner.cli run FILE --trials N --seed 0` in a new
process (``PYTHONPATH`` at the code's checkout), into an empty folder ("fresh"),
then again under another study name into the stores it made ("existing").
The phases are read back from MLflow against the process's launch and exit:
when the first trial's run started, the first trial's and all trials' fit +
evaluate, the time from the last trial's end to the parent run's end (Optuna's
plots, the best run), and from the parent run's end to the process's exit
(waiting for the figures process, the interpreter's exit). Inside the search
(the first trial's start to the last trial's end, no process start-up or
teardown), a second table splits each trial's time outside fit + evaluate
into its phases, from the trials' own ``time_*_s`` metrics: building the
model, its report's predictions and summary, logging the model, and the gap
between one trial's run ending and the next one's starting (Optuna's tell,
ask and suggest; the new MLflow run). Before each run,
``python -c "import keras"`` is timed: the share without the import is as in
``bookkeeping.py --cli``. Codes alternate within each round, so a machine's
drift spreads over both.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path

from common import keras_import_seconds, save, table, tuner_run
from mlflow.tracking import MlflowClient

ROOT = Path(__file__).parents[1]


def run_once(code: Path, study_file: Path, n_trials: int, folder: str, name: str) -> dict:
    keras_import = keras_import_seconds()
    launched, ended = tuner_run(study_file, n_trials, folder, name, code)
    client = MlflowClient(f"sqlite:///{folder}/mlruns/mlflow.db")
    experiment = client.get_experiment_by_name(name)
    [parent] = client.search_runs([experiment.experiment_id], "tags.`tuner.role` = 'study'")
    trials = sorted(
        client.search_runs([experiment.experiment_id], "tags.`tuner.role` = 'trial'"),
        key=lambda run: run.info.start_time,
    )
    fits = [
        t.data.metrics.get("time_fit_s", 0) + t.data.metrics.get("time_evaluate_s", 0)
        for t in trials
    ]
    parent_end = parent.info.end_time / 1000
    total = ended - launched
    search = (max(t.info.end_time for t in trials) - trials[0].info.start_time) / 1000
    gaps = [
        max(0, (later.info.start_time - earlier.info.end_time) / 1000)
        for earlier, later in itertools.pairwise(trials)
    ]
    return {
        **in_search(trials, search, sum(fits), gaps),
        "trials": len(trials),
        "total_s": total,
        "first_trial_start_s": trials[0].info.start_time / 1000 - launched,
        "first_trial_fit_s": fits[0],
        "fit_evaluate_s": sum(fits),
        "outside_fit_s": total - sum(fits),
        "keras_import_s": keras_import,
        "share_without_import": (total - keras_import - sum(fits)) / (total - keras_import),
        "last_trial_to_parent_end_s": parent_end - max(t.info.end_time for t in trials) / 1000,
        "parent_end_to_exit_s": ended - parent_end,
    }


def in_search(trials: list, search_s: float, fit_evaluate_s: float, gaps: list[float]) -> dict:
    """The share inside the search, and each trial's phases outside fit + evaluate (means)."""

    def mean(metric: str) -> float:
        return sum(t.data.metrics.get(metric, 0) for t in trials) / len(trials)

    outside = (search_s - fit_evaluate_s) / len(trials)
    return {
        "search_s": search_s,
        "share_in_search": (search_s - fit_evaluate_s) / search_s,
        "trial_outside_s": outside,
        "trial_build_s": mean("time_build_s"),
        "trial_report_s": mean("time_report_s"),
        "trial_model_s": mean("time_model_s"),
        "trial_gap_s": sum(gaps) / len(trials),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument(
        "--studies",
        default="synthetic.py:8",
        help="FILE:N,... study files of this checkout's studies/ and trials",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--code",
        default=f"this={ROOT}",
        help="NAME=CHECKOUT,... the code each run imports (PYTHONPATH)",
    )
    args = parser.parse_args()
    studies = (
        [("synthetic.py", 2)]
        if args.smoke
        else [(name, int(n)) for name, n in (item.split(":") for item in args.studies.split(","))]
    )
    rounds = 1 if args.smoke else args.rounds
    codes = {
        name: Path(path).resolve()
        for name, path in (item.split("=") for item in args.code.split(","))
    }
    rows = []
    for study, n_trials in studies:
        for round_ in range(rounds):
            for code_name, code in codes.items():
                with tempfile.TemporaryDirectory() as folder:
                    for store in ("fresh", "existing"):
                        row = run_once(
                            code,
                            code / "studies" / study,
                            n_trials,
                            folder,
                            f"{Path(study).stem}-{store}",
                        )
                        rows.append(
                            {
                                "study": study,
                                "code": code_name,
                                "round": round_,
                                "store": store,
                                **row,
                            }
                        )
    keys = [
        "total_s",
        "first_trial_start_s",
        "first_trial_fit_s",
        "fit_evaluate_s",
        "outside_fit_s",
        "last_trial_to_parent_end_s",
        "parent_end_to_exit_s",
        "keras_import_s",
    ]
    print(
        table(
            ["study", "code", "round", "store", "trials", *keys, "share without import"],
            [
                [
                    r["study"],
                    r["code"],
                    r["round"],
                    r["store"],
                    r["trials"],
                    *(round(r[k], 2) for k in keys),
                    f"{100 * r['share_without_import']:.1f}%",
                ]
                for r in rows
            ],
        )
    )
    phases = ["trial_outside_s", "trial_build_s", "trial_report_s", "trial_model_s", "trial_gap_s"]
    print("\nInside the search, per trial (means, s):\n")
    print(
        table(
            ["study", "code", "round", "store", "search_s", "share in search", *phases],
            [
                [
                    r["study"],
                    r["code"],
                    r["round"],
                    r["store"],
                    round(r["search_s"], 2),
                    f"{100 * r['share_in_search']:.1f}%",
                    *(round(r[k], 3) for k in phases),
                ]
                for r in rows
            ],
        )
    )
    print(f"wrote {save('run_phases-smoke' if args.smoke else 'run_phases', {'rows': rows})}")


if __name__ == "__main__":
    main()
