"""What a finished trial costs before the next one starts: its test split and its model.

    python bench/trial_end.py           # Fashion-MNIST's test split, 7 models; 3 processes each
    python bench/trial_end.py --smoke   # the synthetic set, 2 models, 1 process each

Test split: for each new model (the tutorials' 300-100 MLP, as every trial's
model is new), Keras's ``evaluate`` then the report's prediction (what tuner
did before session 8) against ``tuner.training.evaluate``, which computes the
scores and keeps the outputs in one pass without tracing a function. The two
alternate, median seconds.

Model: the first and second ``log_model`` of a new process (MLflow's package
map is built once per process) with tuner's ``Tracker.log_model`` (a model's
pins checked by name) against the same call to ``mlflow.keras.log_model``
without that. Each in its own new process, alternating; median seconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import keras
import mlflow
import numpy as np
from common import REFERENCE, load, save, table

from tuner.data import infer_task
from tuner.model import build_model, compile_options
from tuner.preprocessing import choose
from tuner.tracking import Tracker, model_requirements
from tuner.training import evaluate, predict


def test_split(smoke: bool, models: int) -> dict[str, float]:
    data = load(smoke)
    x, y = data.splits()["test"]
    task, scaling = infer_task(data.y_train), choose(data.x_train, "auto")
    params = {**REFERENCE, "batch_size": 32}
    times: dict[str, list[float]] = {"evaluate + predict": [], "one pass": []}
    for _ in range(models):
        for way in times:
            keras.backend.clear_session(free_memory=False)
            model = build_model(params, data.x_train.shape[1:], task, scaling=scaling,
                                **compile_options(32, "auto", "auto"))
            started = time.perf_counter()
            if way == "one pass":
                evaluate(model, x, y)
            else:
                model.evaluate(x, y, batch_size=1024, verbose=0, return_dict=True)
                predict(model, x)
            times[way].append(time.perf_counter() - started)
    return {way: statistics.median(seconds) for way, seconds in times.items()}


def log_models(way: str) -> list[float]:
    """In this new process: two models logged, ``way`` = "tuner" or "mlflow"."""
    with tempfile.TemporaryDirectory() as folder:
        tracker = Tracker(f"sqlite:///{folder}/mlflow.db", "models", tags={})
        model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(300, "relu"),
                                  keras.layers.Dense(10, "softmax")])
        x = np.random.default_rng(0).random((5, 784), dtype="float32")
        y = model.predict(x, verbose=0)
        seconds = []
        for number in range(2):
            run_id = tracker.start_trial(number, {"batch_size": 32}, tags={})
            started = time.perf_counter()
            if way == "tuner":
                tracker.log_model(run_id, model, x, y, metadata={})
            else:
                with mlflow.start_run(run_id=run_id):
                    mlflow.keras.log_model(
                        model, name="model", signature=mlflow.models.infer_signature(x, y),
                        pip_requirements=list(model_requirements()), metadata={})
            seconds.append(time.perf_counter() - started)
            tracker.end_trial(run_id, "COMPLETE")
        return seconds


def model_logging(processes: int) -> dict[str, list[float]]:
    times: dict[str, list[list[float]]] = {"tuner": [], "mlflow": []}
    for _ in range(processes):
        for way in times:
            done = subprocess.run([sys.executable, __file__, "--child", way], check=True,
                                  capture_output=True, text=True, cwd=Path(__file__).parent)
            times[way].append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {way: [statistics.median(s[i] for s in runs) for i in range(2)]
            for way, runs in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--child", choices=["tuner", "mlflow"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(log_models(args.child)))
        return
    split = test_split(args.smoke, 2 if args.smoke else 7)
    print(table(["test split of a new model", "median s"], list(split.items())))
    models = model_logging(1 if args.smoke else 3)
    print(table(["log_model", "first of a process s", "second s"],
                [[way, *seconds] for way, seconds in models.items()]))
    print("wrote", save("trial_end-smoke" if args.smoke else "trial_end",
                        {"test_split": split, "log_model": models}))


if __name__ == "__main__":
    main()
