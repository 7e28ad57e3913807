"""The tutorials' learning-rate finder: raise the rate exponentially, watch the loss.

Train the study's default model for a few hundred steps while the learning
rate grows from 1e-5 to 10; the loss falls, flattens, then climbs. The rate
where the smoothed loss is lowest is too high to train with; the suggested
range ends a few times below it and starts a hundred times below.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from tuner.core.space import Space
from tuner.data.prepare import Prepared
from tuner.keras.recipe import Recipe

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


def default_params(space: Space, optimizer: str, batch_size: int | None) -> dict[str, Any]:
    """A middle-of-the-space model (``Space.middle``) at a constant, rising rate, no dropout."""
    params = space.middle()
    params.update(
        optimizer=optimizer,
        learning_rate=START_LR,
        dropout=0.0,
        lr_schedule="constant",
        batch_size=batch_size or params["batch_size"],
    )
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


def find_learning_rate(
    prepared: Prepared, params: Mapping[str, Any], n_steps: int = 300
) -> LRFinding:
    """Train ``n_steps`` steps (as many epochs as that takes) with a growing rate."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(prepared.settings.study.seed)
    recipe = Recipe(params, prepared)
    data = recipe.targets(prepared.data)
    model = recipe.build(per_batch=True)
    steps_per_epoch = math.ceil(len(data.x_train) / params["batch_size"])
    finder = ExponentialRate(n_steps)
    for _ in range(math.ceil(n_steps / steps_per_epoch)):
        finder.mean = 0.0
        model.fit(
            data.x_train,
            data.y_train,
            batch_size=params["batch_size"],
            epochs=1,
            verbose=0,
            callbacks=[finder],
            shuffle=True,
        )
        if model.stop_training or len(finder.rates) >= n_steps:
            break
    smoothed = _smooth(finder.losses)
    best = finder.rates[int(np.nanargmin(smoothed))]
    return LRFinding(
        finder.rates, smoothed, low=best / LOW_BELOW_MINIMUM, high=best / HIGH_BELOW_MINIMUM
    )


def _smooth(losses: list[float]) -> list[float]:
    """Exponential moving average with bias correction, as the tutorials plot it."""
    smoothed, average = [], 0.0
    for i, loss in enumerate(losses, start=1):
        average = SMOOTHING * average + (1 - SMOOTHING) * (loss if math.isfinite(loss) else 1e9)
        smoothed.append(average / (1 - SMOOTHING**i))
    return smoothed
