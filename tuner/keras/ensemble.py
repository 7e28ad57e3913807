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

    ``mean``: equal weights. ``greedy``: Caruana et al.'s forward selection with
    replacement (2004): ``rounds`` times, add the candidate that scores the
    running mean best (ties go to the better-ranked candidate); a member's weight
    is the share of rounds that picked it.
    """
    count = len(outputs)
    if method == "mean" or count == 1:
        return np.full(count, 1.0 / count)
    picks = np.zeros(count)
    total = np.zeros_like(np.asarray(outputs[0], dtype="float32"))
    for done in range(rounds):
        trials = [score((total + o) / (done + 1)) for o in outputs]
        best = int(np.argmax(trials) if maximize else np.argmin(trials))
        picks[best] += 1
        total = total + outputs[best]
    return picks / picks.sum()


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
