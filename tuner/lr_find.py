"""The tutorials' learning-rate finder: raise the rate exponentially, watch the loss.

Train the study's default model for a few hundred steps while the learning
rate grows from 1e-5 to 10; the loss falls, flattens, then climbs. The rate
where the smoothed loss is lowest is too high to train with; the suggested
range ends a few times below it and starts a hundred times below.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from mlflow.tracking import MlflowClient

from tuner import figures
from tuner.model import build_model
from tuner.space import AUTO, Choice, Float, Space
from tuner.study import Study
from tuner.tracking import log_lr_finding
from tuner.trial import Prepared

START_LR = 1e-5
END_LR = 10.0
SMOOTHING = 0.9
HIGH_BELOW_MINIMUM = 3.0
LOW_BELOW_MINIMUM = 100.0


@dataclass(frozen=True)
class LRFinding:
    """The rates tried, their (smoothed) losses, and the suggested range."""

    rates: list[float]
    losses: list[float]
    low: float
    high: float

    def space_line(self) -> str:
        return f"learning_rate=tuner.Float({self.low:.2g}, {self.high:.2g}, log=True),"

    def log(self, tracking_uri: str, study_name: str, params: Mapping[str, Any],
            tags: Mapping[str, str] | None = None) -> None:
        """An lr-find run in the study's experiment: the suggestion as metrics, the plot."""
        log_lr_finding(tracking_uri, study_name, params,
                       {"suggested_low": self.low, "suggested_high": self.high},
                       figures.lr_finder(self.rates, self.losses, self.low, self.high), tags)


def default_params(space: Space, optimizer: str, batch_size: int | None) -> dict[str, Any]:
    """A middle-of-the-space model (``Space.middle``) at a constant, rising rate, no dropout."""
    params = space.middle()
    params.update(optimizer=optimizer, learning_rate=START_LR, dropout=0.0,
                  lr_schedule="constant", batch_size=batch_size or params["batch_size"])
    return params


class ExponentialRate(keras.callbacks.Callback):
    """Sets the rate before each step; recovers each step's loss from Keras's running mean."""

    def __init__(self, n_steps: int) -> None:
        super().__init__()
        self.factor = (END_LR / START_LR) ** (1 / max(n_steps - 1, 1))
        self.rates: list[float] = []
        self.losses: list[float] = []
        self.mean = 0.0

    def on_train_batch_begin(self, batch: int, logs: Mapping[str, float] | None = None) -> None:
        self.model.optimizer.learning_rate = START_LR * self.factor ** len(self.rates)

    def on_train_batch_end(self, batch: int, logs: Mapping[str, float] | None = None) -> None:
        mean = float((logs or {})["loss"])
        loss = mean * (batch + 1) - self.mean * batch  # Keras logs the epoch's running mean
        self.mean = mean
        self.rates.append(START_LR * self.factor ** len(self.rates))
        self.losses.append(loss)
        if not math.isfinite(loss) or loss > 4 * min(self.losses):
            self.model.stop_training = True


def find_learning_rate(prepared: Prepared, params: Mapping[str, Any],
                       n_steps: int = 300) -> LRFinding:
    """Train ``n_steps`` steps (as many epochs as that takes) with a growing rate."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(prepared.settings.study.seed)
    data = prepared.data
    model = build_model(params, data.x_train.shape[1:], prepared.task, scaling=prepared.scaling)
    steps_per_epoch = math.ceil(len(data.x_train) / params["batch_size"])
    finder = ExponentialRate(n_steps)
    for _ in range(math.ceil(n_steps / steps_per_epoch)):
        finder.mean = 0.0
        model.fit(data.x_train, data.y_train, batch_size=params["batch_size"], epochs=1,
                  verbose=0, callbacks=[finder], shuffle=True)
        if model.stop_training or len(finder.rates) >= n_steps:
            break
    smoothed = _smooth(finder.losses)
    best = finder.rates[int(np.nanargmin(smoothed))]
    return LRFinding(finder.rates, smoothed, low=best / LOW_BELOW_MINIMUM,
                     high=best / HIGH_BELOW_MINIMUM)


def _smooth(losses: list[float]) -> list[float]:
    """Exponential moving average with bias correction, as the tutorials plot it."""
    smoothed, average = [], 0.0
    for i, loss in enumerate(losses, start=1):
        average = SMOOTHING * average + (1 - SMOOTHING) * (loss if math.isfinite(loss) else 1e9)
        smoothed.append(average / (1 - SMOOTHING ** i))
    return smoothed


def auto_learning_rate(study: Study, prepared: Prepared, tracking_uri: str) -> Study:
    """``learning_rate="auto"``: the finder's ranges for the space's optimizers, joined.

    Each finding is logged as an lr-find run tagged ``tuner.auto``; a resumed
    study or a worker reuses the first finding per optimizer, so every trial of
    a study samples from the same range.
    """
    if study.space.learning_rate != AUTO:
        return study
    optimizer = study.space.optimizer
    optimizers = optimizer.values if isinstance(optimizer, Choice) else (optimizer,)
    found = _earlier_findings(tracking_uri, study.name)
    for name in optimizers:
        if name in found:
            continue
        params = default_params(study.space, name, None)
        finding = find_learning_rate(prepared, params)
        finding.log(tracking_uri, study.name, params, tags={"tuner.auto": "true"})
        found[name] = (finding.low, finding.high)
    low = min(found[name][0] for name in optimizers)
    high = max(found[name][1] for name in optimizers)
    space = dataclasses.replace(study.space, learning_rate=Float(low, high, log=True))
    return dataclasses.replace(study, space=space)


def _earlier_findings(tracking_uri: str, study_name: str) -> dict[str, tuple[float, float]]:
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(study_name)
    if experiment is None:
        return {}
    runs = client.search_runs(
        [experiment.experiment_id],
        "tags.`tuner.role` = 'lr-find' and tags.`tuner.auto` = 'true'",
        order_by=["attributes.start_time ASC"])
    found: dict[str, tuple[float, float]] = {}
    for run in runs:
        metrics = run.data.metrics
        if {"suggested_low", "suggested_high"} <= metrics.keys():
            found.setdefault(run.data.params["optimizer"],
                             (metrics["suggested_low"], metrics["suggested_high"]))
    return found


def find_for_study_file(study_file: str, optimizer: str, batch_size: int | None, n_steps: int,
                        apply: bool, tracking_uri: str | None, *, debug: bool = False) -> str:
    """``tuner lr-find``: the finding for the study's data, logged; the lines to print."""
    from tuner import process, stores
    from tuner.search import prepare
    from tuner.studyfile import load_study_file

    study = load_study_file(study_file)
    process.quiet_libraries(debug=debug)
    params = default_params(study.space, optimizer, batch_size)
    finding = find_learning_rate(prepare(study), params, n_steps=n_steps)
    finding.log(stores.resolve(tracking_uri, None).tracking_uri, study.name, params)
    lines = [f"{optimizer}, batch {params['batch_size']}: suggested learning rate "
             f"{finding.low:.2g} .. {finding.high:.2g} "
             f"({len(finding.rates)} steps; plot in MLflow run lr-find of {study.name})"]
    return "\n".join(lines + ([finding.space_line()] if apply else []))
