"""Tasks: what a network predicts, and the metric and objectives each task logs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TaskKind = Literal["multiclass", "binary", "multilabel", "regression"]
TASKS: tuple[TaskKind, ...] = ("multiclass", "binary", "multilabel", "regression")
METRICS: dict[TaskKind, str] = {
    "multiclass": "accuracy", "binary": "accuracy", "multilabel": "accuracy", "regression": "mae",
}


@dataclass(frozen=True)
class Task:
    """What the network predicts: the output layer and loss follow from it."""

    kind: TaskKind
    n_outputs: int
    one_hot: bool = False


def objective_names(task: Task) -> tuple[str, ...]:
    """Epoch-log keys a study of this task can optimise."""
    metric = METRICS[task.kind]
    return ("val_loss", f"val_{metric}", "loss", metric)
