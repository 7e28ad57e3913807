"""Bookkeeping share of a study: wall time not spent in fit + evaluate, over the total.

    python bench/bookkeeping.py           # studies/fashion.py x 4 trials, synthetic.py x 8
    python bench/bookkeeping.py --smoke   # synthetic.py x 2

Runs each study in this process (TensorFlow's import, the same for any Keras
program, is not counted) into a temporary store with tuner's defaults, then
reads each trial's `time_fit_s` and `time_evaluate_s` back from MLflow.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import save, table
from mlflow.tracking import MlflowClient

from tuner.engines.base import RunOptions
from tuner.run import run_study
from tuner.studyfile import load_study_file

STUDIES = Path(__file__).parents[1] / "studies"


def share(study_file: Path, n_trials: int) -> dict:
    study = load_study_file(study_file)
    with tempfile.TemporaryDirectory() as folder:
        options = RunOptions(tracking_uri=f"sqlite:///{folder}/mlflow.db",
                             storage_url=f"sqlite:///{folder}/optuna.db",
                             n_trials=n_trials, timeout=None, seed=0)
        started = time.perf_counter()
        run_study(study, options)
        total = time.perf_counter() - started
        client = MlflowClient(options.tracking_uri)
        experiment = client.get_experiment_by_name(study.name)
        runs = client.search_runs([experiment.experiment_id], "tags.`tuner.role` = 'trial'")
    training = sum(r.data.metrics.get("time_fit_s", 0) + r.data.metrics.get("time_evaluate_s", 0)
                   for r in runs)
    phases = {k: sum(r.data.metrics.get(k, 0) for r in runs)
              for k in ("time_build_s", "time_report_s", "time_model_s")}
    return {"study": study.name, "trials": len(runs), "total_s": total,
            "fit_evaluate_s": training, "bookkeeping_share": (total - training) / total,
            **phases}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    plan = [("synthetic.py", 2)] if args.smoke else [("fashion.py", 4), ("synthetic.py", 8)]
    rows = [share(STUDIES / name, n) for name, n in plan]
    print(table(["study", "trials", "total s", "fit+evaluate s", "bookkeeping share",
                 "build s", "figures s", "model logging s"],
                [[r["study"], r["trials"], r["total_s"], r["fit_evaluate_s"],
                  f"{100 * r['bookkeeping_share']:.1f}%", r["time_build_s"],
                  r["time_report_s"], r["time_model_s"]] for r in rows]))
    print("wrote", save("bookkeeping-smoke" if args.smoke else "bookkeeping", {"rows": rows}))


if __name__ == "__main__":
    main()
