"""Overhead of tuner's bookkeeping: K fixed configurations, bare Keras against `tuner run`.

    python bench/overhead.py              # Fashion-MNIST, 5 configurations x 5 epochs
    python bench/overhead.py --smoke      # synthetic data, 2 x 2: checks it runs

The same configurations (enqueued as baselines, no pruning, no early stop) are
trained once by a bare Keras loop (build, compile, fit with validation,
evaluate) and once by `run_study` with full MLflow logging (curves, figures,
model) into a temporary store, in one process. Both use the same compile
options (steps_per_execution=1, no XLA) and validation batch, so the ratio is
bookkeeping alone.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import keras
from common import REFERENCE, load, save, table
from mlflow.tracking import MlflowClient

import tuner
from tuner.data import infer_task
from tuner.engines.base import RunOptions
from tuner.model import build_model
from tuner.preprocessing import choose
from tuner.run import run_study
from tuner.training import validation_batch_size

CONFIGS = [
    {**REFERENCE, "batch_size": 128},
    {**REFERENCE, "n_layers": 1, "units_0": 128, "optimizer": "adam", "learning_rate": 1e-3,
     "batch_size": 256},
    {**REFERENCE, "n_layers": 3, "units_2": 50, "optimizer": "nadam", "learning_rate": 1e-3,
     "batch_size": 128},
    {**REFERENCE, "units_0": 512, "optimizer": "rmsprop", "learning_rate": 1e-3,
     "batch_size": 256},
    {**REFERENCE, "units_0": 64, "units_1": 32, "optimizer": "adamw", "learning_rate": 3e-3,
     "batch_size": 64},
]


def bare(data, configs, epochs) -> list[float]:
    """The configurations by hand: same model and scaling layer as tuner's, no bookkeeping."""
    task = infer_task(data.y_train)
    scaling = choose(data.x_train, "auto")
    seconds = []
    for config in configs:
        started = time.perf_counter()
        keras.backend.clear_session()
        model = build_model(config, data.x_train.shape[1:], task, scaling=scaling)
        model.fit(data.x_train, data.y_train, batch_size=config["batch_size"], epochs=epochs,
                  validation_data=(data.x_val, data.y_val), verbose=0,
                  validation_batch_size=validation_batch_size(config["batch_size"]))
        model.evaluate(data.x_val, data.y_val, verbose=0)
        model.evaluate(data.x_test, data.y_test, verbose=0)
        seconds.append(time.perf_counter() - started)
    return seconds


def through_tuner(data, configs, epochs, folder: Path) -> tuple[float, list[dict]]:
    study = tuner.Study(data=lambda: data, baselines=configs, pruner="none",
                        max_epochs=epochs, patience=epochs, name="overhead",
                        steps_per_execution=1, jit_compile=False)
    options = RunOptions(tracking_uri=f"sqlite:///{folder}/mlflow.db",
                         storage_url=f"sqlite:///{folder}/optuna.db",
                         n_trials=len(configs), timeout=None, seed=0)
    started = time.perf_counter()
    run_study(study, options)
    total = time.perf_counter() - started
    client = MlflowClient(options.tracking_uri)
    experiment = client.get_experiment_by_name("overhead")
    runs = client.search_runs([experiment.experiment_id], "tags.`tuner.role` = 'trial'",
                              order_by=["attributes.start_time"])
    phases = [{k: v for k, v in r.data.metrics.items() if k.startswith("time_")} |
              {"wall_s": (r.info.end_time - r.info.start_time) / 1000} for r in runs]
    return total, phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    configs, epochs = (CONFIGS[:2], 2) if args.smoke else (CONFIGS, 5)
    data = load(args.smoke)
    bare(data, configs[:1], 1)  # warm up TensorFlow before timing either side
    bare_seconds = bare(data, configs, epochs)
    with tempfile.TemporaryDirectory() as folder:
        tuner_total, phases = through_tuner(data, configs, epochs, Path(folder))
    rows = []
    for i, (b, p) in enumerate(zip(bare_seconds, phases, strict=True)):
        rows.append([i, b, p["wall_s"], p["wall_s"] / b, p["time_fit_s"] + p["time_evaluate_s"],
                     p["time_report_s"], p["time_model_s"]])
    rows.append(["total", sum(bare_seconds), tuner_total, tuner_total / sum(bare_seconds),
                 sum(p["time_fit_s"] + p["time_evaluate_s"] for p in phases),
                 sum(p["time_report_s"] for p in phases), sum(p["time_model_s"] for p in phases)])
    print(table(["trial", "bare s", "tuner s", "tuner / bare", "fit+evaluate s",
                 "figures s", "model logging s"], rows))
    print("total includes the study's set-up, parent run, Optuna plots and storage")
    print("wrote", save("overhead-smoke" if args.smoke else "overhead", {
        "epochs": epochs, "configs": configs, "bare_s": bare_seconds,
        "tuner_total_s": tuner_total, "tuner_phases": phases}))


if __name__ == "__main__":
    main()
