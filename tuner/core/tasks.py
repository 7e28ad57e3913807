"""Tasks: what a network predicts, and the metric and objectives each task logs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TaskKind = Literal["multiclass", "binary", "multilabel", "regression"]
TASKS: tuple[TaskKind, ...] = ("multiclass", "binary", "multilabel", "regression")
METRICS: dict[TaskKind, str] = {
    "multiclass": "accuracy",
    "binary": "accuracy",
    "multilabel": "accuracy",
    "regression": "mae",
}


@dataclass(frozen=True)
class Task:
    """What the network predicts: the output layer and loss follow from it."""

    kind: TaskKind
    n_outputs: int
    one_hot: bool = False


# Scores of a classifier that Keras does not log (tuner.keras.scores adds them).
CLASS_SCORES = ("balanced_accuracy", "macro_f1", "auc")


def objective_names(task: Task) -> tuple[str, ...]:
    """Epoch-log keys a study of this task can optimise."""
    metric = METRICS[task.kind]
    scored = (
        tuple(f"val_{s}" for s in CLASS_SCORES) if task.kind in ("binary", "multiclass") else ()
    )
    return ("val_loss", f"val_{metric}", "loss", metric, *scored)


def is_class_score(objective: str) -> bool:
    """Whether ``objective`` is one of ``CLASS_SCORES`` (on validation)."""
    return objective.removeprefix("val_") in CLASS_SCORES and objective.startswith("val_")


def higher_is_better(objective: str) -> bool:
    """Accuracy and the class scores are maximized; losses and errors minimized."""
    return objective.endswith("accuracy") or is_class_score(objective)
