"""What the two anchors of time_to_accuracy.py share: the study's data as a user
prepares it by hand, and a record of each finished trial.

An anchor is a search a user writes without tuner (handmade_optuna.py,
keras_tuner_hyperband.py). It runs in its own process and appends one JSON
line per finished trial to ``trials.jsonl``: seconds since the benchmark
launched it, state, best validation accuracy and that model's test accuracy.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from tuner.core.studyfile import load_study_file
from tuner.data.loading import load_data

STUDIES = Path(__file__).parents[1] / "studies"
OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "sgd": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
    "nadam": keras.optimizers.Nadam,
    "adamw": keras.optimizers.AdamW,
}


@dataclass(frozen=True)
class Prepared:
    """Scaled arrays (pixels / max, tabular columns standardised on the training split)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    max_epochs: int
    patience: int


def prepare(study_name: str) -> Prepared:
    """The study file's data, epochs and patience; the scaling a tutorial does by hand."""
    study = load_study_file(STUDIES / f"{study_name}.py")
    data = load_data(study)  # with the study's seed, where its loader takes one
    x_train = data.x_train.astype("float32")
    if x_train.ndim > 2:
        mean, std = 0.0, float(x_train.max())
    else:
        mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-7
    scaled = [(x.astype("float32") - mean) / std for x in (data.x_train, data.x_val, data.x_test)]
    n_classes = int(max(data.y_train.max(), data.y_val.max())) + 1
    return Prepared(
        scaled[0],
        data.y_train,
        scaled[1],
        data.y_val,
        scaled[2],
        data.y_test,
        n_classes,
        study.max_epochs,
        study.patience,
    )


def mlp(data: Prepared, n_layers: int, units: list[int]) -> keras.Sequential:
    """Flatten, ReLU Dense layers, softmax: the tutorials' MLP with the drawn sizes."""
    layers = [keras.Input(shape=data.x_train.shape[1:]), keras.layers.Flatten()]
    layers += [keras.layers.Dense(units[i], activation="relu") for i in range(n_layers)]
    layers.append(keras.layers.Dense(data.n_classes, activation="softmax"))
    return keras.Sequential(layers)


class Record:
    """Appends each finished trial to ``folder/trials.jsonl``, timed from ``launched``."""

    def __init__(self, folder: Path, launched: float, data: Prepared) -> None:
        self.path = folder / "trials.jsonl"
        self.launched = launched
        self.data = data

    def trial(self, state: str, val: float | None, model: keras.Model | None, epochs: int) -> None:
        test = None
        if model is not None:
            test = float(
                model.evaluate(self.data.x_test, self.data.y_test, verbose=0, batch_size=1024)[1]
            )
        line = {
            "end_s": time.time() - self.launched,
            "state": state,
            "val": val,
            "test": test,
            "epochs": epochs,
        }
        with self.path.open("a") as out:
            out.write(json.dumps(line) + "\n")


def start() -> tuple[Prepared, Record, int]:
    """An anchor's data, its record and its seed, from its arguments (STUDY SEED FOLDER
    LAUNCHED, as time_to_accuracy.py gives them)."""
    study_name, seed, folder, launched = sys.argv[1:5]
    data = prepare(study_name)
    return data, Record(Path(folder), float(launched), data), int(seed)
