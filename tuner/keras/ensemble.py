"""Ensembles of trained models: scoring outputs, choosing weights, one Keras model.

Selection works on outputs already computed (each trial's validation outputs),
so choosing an ensemble trains nothing. The joined model uses Keras's built-in
layers only, so it loads with ``mlflow.keras.load_model`` without tuner.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np

from tuner.core.tasks import Task
from tuner.data.prepare import TargetScale
from tuner.keras.model import metrics_of

GREEDY_ROUNDS = 20
# The loss each task trains with (``model.OUTPUTS``), as classes: they align label shapes.
LOSSES: dict[str, type[keras.losses.Loss]] = {
    "multiclass": keras.losses.SparseCategoricalCrossentropy,
    "binary": keras.losses.BinaryCrossentropy,
    "multilabel": keras.losses.BinaryCrossentropy,
    "regression": keras.losses.MeanSquaredError,
}


def scores(
    task: Task, y: np.ndarray, outputs: np.ndarray, target_scale: TargetScale | None = None
) -> dict[str, float]:
    """``loss`` and the metrics of ``outputs`` against ``y``, as a trial logs them
    (a regression's loss standardized as ``target_scale`` says)."""
    outputs = np.asarray(outputs, dtype="float32")
    if target_scale is not None:
        found = {"loss": target_scale.loss(y, outputs)}
    else:
        loss = keras.losses.CategoricalCrossentropy() if task.one_hot else LOSSES[task.kind]()
        found = {"loss": float(loss(y, outputs))}
    if task.kind == "regression":  # R² wants the outputs' shape
        y = np.asarray(y, dtype="float32").reshape(outputs.shape)
    for measure in metrics_of(task):
        measure.update_state(y, outputs)
        found[measure.name] = float(measure.result())
    return found


def weighted_mean(outputs: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """The members' outputs averaged with ``weights`` (which sum to 1)."""
    return np.sum(
        [w * np.asarray(o, dtype="float32") for o, w in zip(outputs, weights, strict=True)], axis=0
    )


def select(
    outputs: Sequence[np.ndarray],
    score: Callable[[np.ndarray], float],
    *,
    maximize: bool,
    method: str,
    rounds: int = GREEDY_ROUNDS,
) -> np.ndarray:
    """Weights over the candidates, in their order (best first).

    ``best-k``: the mean of the first k, k chosen by ``score`` (the smaller on ties).
    ``mean``: equal weights. ``greedy``: Caruana et al.'s forward selection with
    replacement (2004): ``rounds`` times, add the candidate that scores the running
    mean best (ties go to the better-ranked candidate), and keep the picks up to the
    round that scored best; a member's weight is its share of those picks. ``best-k``
    and ``greedy`` never score below the best single candidate on the outputs they
    choose on: both consider it first.
    """
    count = len(outputs)
    if method == "mean" or count == 1:
        return np.full(count, 1.0 / count)
    better = np.argmax if maximize else np.argmin
    if method == "best-k":
        running = np.cumsum([np.asarray(o, dtype="float64") for o in outputs], axis=0)
        found = [score((running[k] / (k + 1)).astype("float32")) for k in range(count)]
        weights = np.zeros(count)
        k = int(better(found))
        weights[: k + 1] = 1.0 / (k + 1)
        return weights
    picks: list[int] = []
    round_scores: list[float] = []
    total = np.zeros_like(np.asarray(outputs[0], dtype="float32"))
    for done in range(rounds):
        trials = [score((total + o) / (done + 1)) for o in outputs]
        best = int(better(trials))
        picks.append(best)
        round_scores.append(trials[best])
        total = total + outputs[best]
    kept = picks[: int(better(round_scores)) + 1]
    return np.bincount(kept, minlength=count) / len(kept)


def standard_error(
    score: Callable[[np.ndarray, np.ndarray], float],
    y: np.ndarray,
    outputs: np.ndarray,
    resamples: int = 100,
    seed: int = 0,
) -> float:
    """The bootstrap standard error of ``score(y, outputs)`` over the rows: how far the
    score would move on another sample of as many rows. Two choices whose scores differ
    by less than about two of these cannot be told apart on this data."""
    rng = np.random.default_rng(seed)
    rows = len(y)
    found = []
    for _ in range(resamples):
        take = rng.integers(0, rows, rows)
        found.append(score(np.asarray(y)[take], np.asarray(outputs)[take]))
    return float(np.std(found, ddof=1))


def join(
    members: Sequence[keras.Model], weights: Sequence[float], input_shape: tuple[int, ...]
) -> keras.Model:
    """One functional model: every member on the same input, outputs weighted and summed.

    Each weight is a ``Rescaling`` layer named ``weight_<i>`` after the member
    ``member_<i>``; the members keep their own preprocessing layers.
    """
    inputs = keras.Input(shape=input_shape, name="features")
    weighted = []
    for i, (member, weight) in enumerate(zip(members, weights, strict=True)):
        member.name = f"member_{i}"
        weighted.append(keras.layers.Rescaling(float(weight), name=f"weight_{i}")(member(inputs)))
    output = keras.layers.Add(name="weighted_mean")(weighted) if len(weighted) > 1 else weighted[0]
    return keras.Model(inputs, output, name="ensemble")
