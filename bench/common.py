"""Shared by the benchmarks: data, the reference model, tables and JSON results."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

import logging  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402

logging.getLogger("tensorflow").setLevel(logging.ERROR)  # retracing notes per new model

from tuner.data.containers import Data  # noqa: E402
from tuner.datasets import fashion_mnist, synthetic  # noqa: E402

RESULTS = Path(os.environ.get("BENCH_RESULTS", Path(__file__).parent / "results"))
# The search budget of a --smoke run, in trials: a time budget on a loaded machine may
# end before any trial completes.
SMOKE_TRIALS = 2
REFERENCE = {
    "n_layers": 2,
    "units_0": 300,
    "units_1": 100,
    "activation": "relu",
    "dropout": 0.0,
    "optimizer": "sgd",
    "learning_rate": 0.01,
}


def load(smoke: bool) -> Data:
    """Fashion-MNIST (raw 0-255 pixels), or in smoke mode the small synthetic set."""
    return synthetic() if smoke else fashion_mnist()


def scaled_by_hand(data: Data) -> Data:
    """What a tutorial does before a bare `fit`: pixels divided by 255 up front."""
    if data.x_train.dtype != np.uint8:
        return data
    return Data(
        *(
            a.astype("float32") / 255.0 if i % 2 == 0 else a
            for i, a in enumerate(
                (data.x_train, data.y_train, data.x_val, data.y_val, data.x_test, data.y_test)
            )
        )
    )


def bare_model(input_shape: tuple[int, ...], n_classes: int) -> keras.Sequential:
    """The tutorials' 300-100 MLP with Keras defaults, as a user writes it by hand."""
    layers = [keras.Input(shape=input_shape)]
    if len(input_shape) > 1:
        layers.append(keras.layers.Flatten())
    layers += [
        keras.layers.Dense(300, activation="relu"),
        keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(n_classes, activation="softmax"),
    ]
    model = keras.Sequential(layers)
    model.compile(
        keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [list(map(str, header))] + [
        [f"{v:.4g}" if isinstance(v, float) else str(v) for v in row] for row in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def save(name: str, payload: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        **payload,
    }
    path.write_text(json.dumps(payload, indent=2))
    return path


def keras_import_seconds() -> float:
    """What importing Keras (and TensorFlow) takes a new process now: any Keras program pays it."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import keras"], check=True, capture_output=True)
    return time.perf_counter() - started


def tuner_run(
    study_file: Path, n_trials: int, folder: str, study_name: str, code: Path | None = None
) -> tuple[float, float]:
    """``tuner run`` as a user runs it: a new process, in ``folder``; its launch and exit times.

    ``code``: the checkout it imports (``PYTHONPATH``), else this environment's tuner.
    """
    env = {**os.environ, "PYTHONPATH": str(code)} if code else None
    launched = time.time()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tuner.cli",
            "run",
            str(study_file),
            "--trials",
            str(n_trials),
            "--seed",
            "0",
            "--no-progress",
            "--study-name",
            study_name,
        ],
        cwd=folder,
        check=True,
        capture_output=True,
        env=env,
    )
    return launched, time.time()
