"""Bookkeeping share of a study, and where a trial's set-up time goes.

    python bench/overhead.py           # studies/fashion.py x 10 trials, synthetic.py x 8
    python bench/overhead.py --smoke   # synthetic.py x 2
    python bench/overhead.py --studies synthetic.py:8   # some studies only
    python bench/overhead.py --cli     # as a user runs it: `tuner run` in a new process

Share: runs each study in this process (TensorFlow's import, the same for any
Keras program, is not counted) with tuner's defaults twice: into a fresh
temporary store (MLflow creates its tables and runs its migrations), then, under
another study name, into the same stores, which now exist (what every later
`tuner run` of a user finds). Each trial's `time_fit_s` and `time_evaluate_s`
are read back from MLflow; share = (wall time - their sum) / wall time.

With ``--cli``: each study as a user runs it, ``tuner run FILE --trials N``
in a new process from an empty folder (default stores under its ``mlruns/``),
then again under another study name in the same folder. The share is given
with the whole process's wall time, and without the import of TensorFlow and
Keras that any Keras program pays (``python -c "import keras"``, timed just
before each run). Unlike the in-process runs, every one of these pays the
per-process costs a user pays: importing MLflow's and Optuna's stores, MLflow's
first model logging (its package map), plotly's templates.

Set-up: for the tutorials' reference model, the time from the end of one
trial to the first trained step of the next: clearing Keras's state (with and
without the full garbage collection `clear_session` runs by default), building
and compiling the model, and one `fit` call on one compiled step (the trace).

Dataset inputs: hashing the splits and building MLflow datasets once per
`tuner run` (`lineage.dataset_inputs`), and the one `log_inputs` call of each
trial, timed beside a single `log_param` into the same fresh SQLite store.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import keras
from common import REFERENCE, keras_import_seconds, load, save, table, tuner_run
from mlflow.tracking import MlflowClient

from tuner.core.options import RunOptions, SearchContext
from tuner.core.study import Study
from tuner.core.studyfile import load_study_file
from tuner.data.preprocessing import choose
from tuner.data.targets import infer_task
from tuner.jobs.study_run import run_study
from tuner.keras.model import build_model, compile_options
from tuner.tracking.lineage import dataset_inputs

STUDIES = Path(__file__).parents[1] / "studies"


def share(study_file: Path, n_trials: int) -> list[dict]:
    """The study into a fresh store, then again (renamed) into the store that now exists."""
    study = load_study_file(study_file)
    with tempfile.TemporaryDirectory() as folder:
        return [
            run_once(
                dataclasses.replace(study, name=f"{study.name}{suffix}"), folder, n_trials, store
            )
            for suffix, store in (("", "fresh"), ("-again", "existing"))
        ]


def share_cli(study_file: Path, n_trials: int) -> list[dict]:
    """``tuner run`` in a new process, into an empty folder, then into the stores it made."""
    name = load_study_file(study_file).name
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for suffix, store in (("", "fresh"), ("-again", "existing")):
            keras_import = keras_import_seconds()
            launched, ended = tuner_run(study_file, n_trials, folder, f"{name}{suffix}")
            total = ended - launched
            row = phase_totals(
                f"sqlite:///{folder}/mlruns/mlflow.db", f"{name}{suffix}", total, store
            )
            row["keras_import_s"] = keras_import
            row["share_without_import"] = (total - keras_import - row["fit_evaluate_s"]) / (
                total - keras_import
            )
            rows.append(row)
    return rows


def run_once(study: Study, folder: str, n_trials: int, store: str) -> dict:
    context = SearchContext(
        options=RunOptions(trials=n_trials),
        tracking_uri=f"sqlite:///{folder}/mlflow.db",
        storage=f"sqlite:///{folder}/optuna.db",
    )
    started = time.perf_counter()
    run_study(study, context)
    return phase_totals(context.tracking_uri, study.name, time.perf_counter() - started, store)


def phase_totals(tracking_uri: str, study_name: str, total: float, store: str) -> dict:
    """The trials' fit+evaluate and phase times, read back from MLflow, against ``total``."""
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(study_name)
    runs = client.search_runs([experiment.experiment_id], "tags.`tuner.role` = 'trial'")
    training = sum(
        r.data.metrics.get("time_fit_s", 0) + r.data.metrics.get("time_evaluate_s", 0) for r in runs
    )
    phases = {
        k: sum(r.data.metrics.get(k, 0) for r in runs)
        for k in ("time_build_s", "time_report_s", "time_model_s")
    }
    return {
        "study": study_name,
        "store": store,
        "trials": len(runs),
        "total_s": total,
        "fit_evaluate_s": training,
        "bookkeeping_share": (total - training) / total,
        **phases,
    }


def setup_times(smoke: bool, repeats: int = 5) -> list[dict]:
    """Median seconds of clear + build + compile + first trace, with and without gc."""
    data = load(smoke)
    task, scaling = infer_task(data.y_train), choose(data.x_train, "auto")
    params = {**REFERENCE, "batch_size": 32}
    options = compile_options(32, "auto", "auto")
    one_call = options["steps_per_execution"] * params["batch_size"]
    rows = []
    for free_memory in (True, False, True, False):
        phases: dict[str, list[float]] = {"clear": [], "build": [], "trace": []}
        for _ in range(repeats):
            started = time.perf_counter()
            keras.backend.clear_session(free_memory=free_memory)
            cleared = time.perf_counter()
            model = build_model(params, data.x_train.shape[1:], task, scaling=scaling, **options)
            built = time.perf_counter()
            model.fit(
                data.x_train[:one_call], data.y_train[:one_call], batch_size=32, epochs=1, verbose=0
            )
            traced = time.perf_counter()
            for name, seconds in (
                ("clear", cleared - started),
                ("build", built - cleared),
                ("trace", traced - built),
            ):
                phases[name].append(seconds)
        medians = {name: statistics.median(v) for name, v in phases.items()}
        rows.append({"gc": free_memory, **medians, "total": sum(medians.values())})
    return rows[2:]  # the first pair warms up TensorFlow


def lineage_times(smoke: bool) -> dict:
    """Seconds to build the datasets once; milliseconds per trial to log them, and one param."""
    data = load(smoke)
    n_runs = 5 if smoke else 30
    started = time.perf_counter()
    datasets = dataset_inputs(data, "bench")
    build_s = time.perf_counter() - started
    per_trial_ms = {}
    with tempfile.TemporaryDirectory() as folder:
        client = MlflowClient(f"sqlite:///{folder}/mlflow.db")
        experiment = client.create_experiment("lineage")
        runs = [client.create_run(experiment).info.run_id for _ in range(n_runs)]
        for name, call in (
            ("log_inputs (3 splits)", lambda r: client.log_inputs(r, datasets)),
            ("log_param (one)", lambda r: client.log_param(r, "p", 1)),
        ):
            started = time.perf_counter()
            for run_id in runs:
                call(run_id)
            per_trial_ms[name] = (time.perf_counter() - started) / n_runs * 1000
    return {"build_s": build_s, "per_trial_ms": per_trial_ms}


def print_cli(plan: list[tuple[str, int]], smoke: bool) -> None:
    rows = [row for name, n in plan for row in share_cli(STUDIES / name, n)]
    print(
        table(
            [
                "study",
                "store",
                "trials",
                "total s",
                "import keras s",
                "fit+evaluate s",
                "share",
                "share without the import",
            ],
            [
                [
                    r["study"],
                    r["store"],
                    r["trials"],
                    r["total_s"],
                    r["keras_import_s"],
                    r["fit_evaluate_s"],
                    f"{100 * r['bookkeeping_share']:.1f}%",
                    f"{100 * r['share_without_import']:.1f}%",
                ]
                for r in rows
            ],
        )
    )
    print("wrote", save("overhead-cli-smoke" if smoke else "overhead-cli", {"rows": rows}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument(
        "--studies",
        default="fashion.py:10,synthetic.py:8",
        help="study files of studies/ and their trials, FILE:N,...",
    )
    parser.add_argument(
        "--cli",
        action="store_true",
        help="`tuner run` in a new process per study instead of run_study here",
    )
    args = parser.parse_args()
    plan = (
        [("synthetic.py", 2)]
        if args.smoke
        else [(name, int(n)) for name, n in (item.split(":") for item in args.studies.split(","))]
    )
    if args.cli:
        print_cli(plan, args.smoke)
        return
    setup = setup_times(args.smoke)
    print(
        table(
            ["clear_session", "clear s", "build + compile s", "first trace s", "total s"],
            [
                [
                    "gc.collect (Keras default, before)" if r["gc"] else "free_memory=False (now)",
                    r["clear"],
                    r["build"],
                    r["trace"],
                    r["total"],
                ]
                for r in setup
            ],
        )
    )
    lineage = lineage_times(args.smoke)
    print(
        table(
            ["dataset inputs", "time"],
            [["hash and build the datasets (once)", f"{lineage['build_s'] * 1000:.0f} ms"]]
            + [
                [f"{name} per trial", f"{ms:.1f} ms"]
                for name, ms in lineage["per_trial_ms"].items()
            ],
        )
    )
    rows = [row for name, n in plan for row in share(STUDIES / name, n)]
    print(
        table(
            [
                "study",
                "store",
                "trials",
                "total s",
                "fit+evaluate s",
                "bookkeeping share",
                "build s",
                "predictions + summary s",
                "model logging s",
            ],
            [
                [
                    r["study"],
                    r["store"],
                    r["trials"],
                    r["total_s"],
                    r["fit_evaluate_s"],
                    f"{100 * r['bookkeeping_share']:.1f}%",
                    r["time_build_s"],
                    r["time_report_s"],
                    r["time_model_s"],
                ]
                for r in rows
            ],
        )
    )
    print(
        "wrote",
        save(
            "overhead-smoke" if args.smoke else "overhead",
            {"rows": rows, "setup": setup, "lineage": lineage},
        ),
    )


if __name__ == "__main__":
    main()
