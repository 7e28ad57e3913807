"""Train one configuration: fit with EarlyStopping, then evaluate the best weights.

Engine-neutral: it takes a compiled model and extra callbacks (pruning,
logging) and knows nothing of Optuna or MLflow.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import keras
import numpy as np

from tuner.core.errors import StudyConfigError, TrialFailed
from tuner.core.tasks import is_class_score
from tuner.data.containers import Data
from tuner.data.inputs import choose as choose_pipeline
from tuner.data.inputs import evaluation_dataset, training_dataset
from tuner.keras.scores import ValidationScores, class_scores
from tuner.runtime import interrupts
from tuner.runtime.workarounds import custom_gradients_released

EVAL_BATCH_SIZE = 1024
ROWS_PER_CALL = 8192


def validation_batch_size(batch_size: int) -> int:
    """Validation in batches of at least 1,024: the same numbers, fewer steps.

    Measured at batch 32 on this CPU: 3 epochs took 3.5 s instead of 4.0-4.5 s,
    with identical validation losses (docs/speed.md).
    """
    return max(batch_size, EVAL_BATCH_SIZE)


@dataclass(frozen=True)
class FitResult:
    """What a finished fit yields: the objective value and the final metrics."""

    value: float
    best_epoch: int
    epochs_trained: int
    metrics: dict[str, float]
    history: dict[str, list[float]]
    fit_seconds: float
    evaluate_seconds: float
    test_outputs: np.ndarray | None = None  # the restored model's, for the report


class EpochTimer(keras.callbacks.Callback):
    """Each epoch's wall time, for the phases a trial logs.

    Keras traces a new model's train and validation steps during its first
    epoch, so the first epoch's excess over the later ones is the trace and
    graph set-up (on the synthetic study, most of a trial's fit). Given
    before the logging and pruning callbacks, its clock stops before they
    write or prune.
    """

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self.began = 0.0

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
        self.began = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
        self.seconds.append(time.perf_counter() - self.began)

    def phases(self) -> dict[str, float]:
        """``time_epoch_s`` (median epoch after the first) and ``time_trace_s`` (the
        first epoch's excess over it); nothing before a second epoch has ended."""
        if len(self.seconds) < 2:
            return {}
        later = statistics.median(self.seconds[1:])
        return {"time_epoch_s": later, "time_trace_s": max(0.0, self.seconds[0] - later)}


class StopWhenSignalled(keras.callbacks.Callback):
    """Ends the fit after the epoch in which a stop signal arrived, should its exception
    have been swallowed on the way (``interrupts``); the trial then raises the stop."""

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
        if interrupts.stopping():
            self.model.stop_training = True


class ObjectiveGuard(keras.callbacks.Callback):
    """Stops the study, not just the trial, when the objective is not in the epoch logs.

    Keras's EarlyStopping and Optuna's pruning callback only warn in that case.
    """

    def __init__(self, objective: str) -> None:
        super().__init__()
        self.objective = objective

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
        if self.objective not in (logs or {}):
            raise StudyConfigError(
                f"objective {self.objective!r} is not among the epoch logs {sorted(logs or {})}"
            )


@dataclass(frozen=True, kw_only=True)
class FitPlan:
    """How ``fit`` trains: EarlyStopping watches ``objective`` (better in ``direction``) for
    ``patience`` epochs, up to ``max_epochs``; ``initial_epoch`` continues a model trained
    before (a Hyperband round); ``input_pipeline`` (``data.inputs``) says how the arrays
    reach Keras; ``seed`` fixes the order of the training rows in each epoch;
    ``class_weight`` weighs each training row's loss by its class (Keras's own)."""

    batch_size: int
    objective: str
    direction: str
    max_epochs: int
    patience: int
    initial_epoch: int = 0
    input_pipeline: str = "auto"
    seed: int | None = None
    class_weight: Mapping[int, float] | None = None


def fit(
    model: keras.Model,
    data: Data,
    plan: FitPlan,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> FitResult:
    """Fit, restore the best epoch's weights, and report them on validation and test.

    The restored weights are the best epoch's, so their validation metrics are
    that epoch's validation logs (equal to ``evaluate`` to the last digit,
    measured: tests/stories/test_speed.py); only the test split is evaluated again.
    """
    # Scores Keras does not log are added to the epoch logs before anything reads them.
    scored = is_class_score(plan.objective)
    early_stopping = keras.callbacks.EarlyStopping(
        monitor=plan.objective,
        mode="max" if plan.direction == "maximize" else "min",
        patience=plan.patience,
        restore_best_weights=True,
    )
    guards = _guards(data, plan.objective, plan.batch_size, scored)
    pipeline = choose_pipeline(plan.input_pipeline, data.x_train)
    started = time.perf_counter()
    with custom_gradients_released():
        history = model.fit(
            **_inputs(data, plan.batch_size, pipeline, plan.seed),
            epochs=plan.max_epochs,
            initial_epoch=plan.initial_epoch,
            verbose=0,
            class_weight=None if plan.class_weight is None else dict(plan.class_weight),
            callbacks=[*guards, *callbacks, early_stopping],
        ).history
    losses = finite_losses(history)
    fitted = time.perf_counter()
    best = early_stopping.best_epoch - plan.initial_epoch
    metrics, outputs = _best_epoch_scores(model, data, history, best, class_scored=scored)
    value = metrics.get(f"final_{plan.objective}", history[plan.objective][best])
    return FitResult(
        value,
        early_stopping.best_epoch,
        len(losses),
        metrics,
        history,
        fit_seconds=fitted - started,
        evaluate_seconds=time.perf_counter() - fitted,
        test_outputs=outputs,
    )


def _guards(
    data: Data, objective: str, batch_size: int, scored: bool
) -> list[keras.callbacks.Callback]:
    """The callbacks every fit starts with: the class scores Keras does not log (where
    the objective is one), the objective's check, the stops on NaN and on a signal."""
    scorer = [ValidationScores(data.x_val, data.y_val, validation_batch_size(batch_size))]
    return [
        *(scorer if scored else []),
        ObjectiveGuard(objective),
        keras.callbacks.TerminateOnNaN(),
        StopWhenSignalled(),
    ]


def finite_losses(history: Mapping[str, list[float]]) -> list[float]:
    """The training losses of ``history``; ``TrialFailed`` if one is NaN or infinite."""
    losses = history.get("loss", [])
    if not losses or not all(math.isfinite(v) for v in losses):
        raise TrialFailed(f"training loss became NaN or infinite at epoch {len(losses) - 1}")
    return losses


def _best_epoch_scores(
    model: keras.Model,
    data: Data,
    history: Mapping[str, list[float]],
    best: int,
    class_scored: bool,
) -> tuple[dict[str, float], np.ndarray | None]:
    """The restored weights' ``final_val_*`` (the ``best``-th logged epoch's) and
    ``test_*`` scores, and their test outputs (None without a test split)."""
    metrics = {f"final_{k}": float(v[best]) for k, v in history.items() if k.startswith("val_")}
    test = data.splits().get("test")
    if test is None:
        return metrics, None
    scores, outputs = evaluate(model, *test)
    if class_scored:
        scores.update(class_scores(test[1], outputs))
    metrics.update({f"test_{k}": v for k, v in scores.items()})
    return metrics, outputs


def _inputs(data: Data, batch_size: int, pipeline: str, seed: int | None) -> dict[str, object]:
    """``fit``'s data arguments: tf.data datasets, or arrays that Keras batches itself."""
    val_batch = validation_batch_size(batch_size)
    validation = (
        {"validation_data": evaluation_dataset(data.x_val, data.y_val, val_batch)}
        if pipeline == "dataset"
        else {"validation_data": (data.x_val, data.y_val), "validation_batch_size": val_batch}
    )
    return {
        **_training_inputs(data.x_train, data.y_train, batch_size, pipeline, seed),
        **validation,
    }


def _training_inputs(
    x: np.ndarray, y: np.ndarray, batch_size: int, pipeline: str, seed: int | None
) -> dict[str, object]:
    if pipeline == "dataset":  # shuffled by the dataset; Keras would warn it ignores shuffle
        return {"x": training_dataset(x, y, batch_size, seed), "shuffle": False}
    return {"x": x, "y": y, "batch_size": batch_size}


def fit_epochs(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int,
    epochs: int,
    input_pipeline: str = "auto",
    seed: int | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    class_weight: Mapping[int, float] | None = None,
) -> None:
    """Train for exactly ``epochs`` epochs on all of ``x``, with nothing held out (a refit).

    Raises ``TrialFailed`` if the loss becomes NaN or infinite.
    """
    inputs = _training_inputs(x, y, batch_size, choose_pipeline(input_pipeline, x), seed)
    with custom_gradients_released():
        losses = model.fit(
            **inputs,
            epochs=epochs,
            verbose=0,
            class_weight=None if class_weight is None else dict(class_weight),
            callbacks=[keras.callbacks.TerminateOnNaN(), *callbacks],
        ).history.get("loss", [])
    if len(losses) < epochs or not all(math.isfinite(v) for v in losses):
        raise TrialFailed(f"training loss became NaN or infinite at epoch {len(losses) - 1}")


def predict(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """The model's outputs by calling it, a few thousand rows a call.

    Keras's ``predict`` builds a dataset and traces a new function for every
    new model (0.06-0.2 s a trial here); for data that fits in memory Keras's
    docs advise calling the model directly. Same numbers, measured here.
    """
    return np.concatenate(
        [
            keras.ops.convert_to_numpy(model(x[i : i + ROWS_PER_CALL], training=False))
            for i in range(0, len(x), ROWS_PER_CALL)
        ]
    )


def evaluate(
    model: keras.Model, x: np.ndarray, y: np.ndarray
) -> tuple[dict[str, float], np.ndarray]:
    """``evaluate``'s loss and metrics, and the outputs they were computed from.

    Keras's test step (``test_step``: the model called, ``compute_loss``, a
    mean of the loss weighted by rows, ``compute_metrics``), run on a few
    thousand rows a call without tracing a function for the new model. The
    report's figures need the same outputs: one pass where ``evaluate`` then
    ``predict`` made two. For a new Fashion-MNIST model's test split: 0.12 s
    against 0.54 s here.
    """
    outputs = predict(model, x)
    model.reset_metrics()
    loss = keras.metrics.Mean(name="loss")
    scores: dict[str, object] = {}
    for i in range(0, len(x), ROWS_PER_CALL):
        rows, truth, predicted = (a[i : i + ROWS_PER_CALL] for a in (x, y, outputs))
        loss.update_state(
            model.compute_loss(rows, truth, predicted, training=False), sample_weight=len(rows)
        )
        scores = model.compute_metrics(rows, truth, predicted)
    return {
        **{k: float(v) for k, v in scores.items()},  # type: ignore[arg-type]
        "loss": float(loss.result()),
    }, outputs
