"""A study's data, loaded and checked once per process, with its task and objective."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tuner.core.errors import StudyConfigError
from tuner.core.study import Direction, Study
from tuner.core.tasks import Task
from tuner.data.baseline import Trivial, trivial_baseline
from tuner.data.containers import Data
from tuner.data.crossval import Fold, make_folds
from tuner.data.loading import load_data
from tuner.data.preprocessing import InputScaling, ScalingRule
from tuner.data.split_checks import SplitWarning, check_splits
from tuner.data.targets import check, class_indices, encode_labels, infer_task


@dataclass(frozen=True)
class TrialSettings:
    """What every trial of one run shares besides its parameters: the study, its objective."""

    study: Study
    objective: str
    direction: Direction

    def as_params(self) -> dict[str, Any]:
        """The study's settings with the objective and direction resolved."""
        return {
            **self.study.logged_settings(),
            "objective": self.objective,
            "direction": self.direction,
        }


@dataclass(frozen=True)
class TargetScale:
    """A regression target's training mean and spread, per output column, and whether the
    network learns its log.

    The network learns the standardized target (of ``log1p(y)`` where ``log``); its
    last layers (Keras's ``Rescaling``, then ``exp`` and ``-1`` where ``log``) give it
    back in the target's own units, so a logged model predicts prices as prices.
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]
    log: bool = False

    @property
    def loss_weight(self) -> float:
        """The squared error on the learned scale (the target's units, or their log) times
        this is the standardized one: the gradients, the optimizers' rates and ``val_loss``
        are those of a target of spread 1."""
        return float(1.0 / np.mean(np.square(self.std)))

    def loss(self, y: np.ndarray, outputs: np.ndarray) -> float:
        """The standardized squared error of ``outputs`` (in the target's units), as a
        trial's ``val_loss`` computes it (Keras's squared error of ``log1p`` where ``log``,
        which clips outputs below 0 to 0)."""
        y = np.asarray(y, dtype="float64").reshape(np.shape(outputs))
        outputs = np.asarray(outputs, dtype="float64")
        if self.log:
            y, outputs = np.log1p(np.maximum(y, 0)), np.log1p(np.maximum(outputs, 0))
        return self.loss_weight * float(np.mean(np.square(y - outputs)))


def target_scale(y: np.ndarray, log: bool = False) -> TargetScale:
    """The mean and standard deviation of each target column (of ``log1p(y)`` where
    ``log``; 1 where a column is constant)."""
    y = np.asarray(y, dtype="float64").reshape(len(y), -1)
    if log:
        y = np.log1p(y)
    std = y.std(axis=0)
    return TargetScale(
        tuple(float(v) for v in y.mean(axis=0)), tuple(float(v) if v > 0 else 1.0 for v in std), log
    )


SKEWNESS = 2.0  # a target more skewed than this is ruled by its largest values


def skewness(y: np.ndarray) -> float | None:
    """The largest skewness of a target's columns whose values are all >= 0 (None where
    some column has a negative value or none varies): a log suits such a target."""
    y = np.asarray(y, dtype="float64").reshape(len(y), -1)
    if y.min() < 0:
        return None
    found = [
        float(np.mean(((column - column.mean()) / column.std()) ** 3))
        for column in y.T
        if column.std() > 0
    ]
    return max(found) if found else None


def learns_log(y: np.ndarray, setting: bool | str) -> bool:
    """Whether the network learns ``log1p`` of the target: ``log_target=True`` (every
    value must be >= 0), or ``"auto"`` and a target skewed past ``SKEWNESS``."""
    if setting is True and np.asarray(y).min() < 0:
        raise StudyConfigError(
            "log_target=True: the target has values below 0; leave log_target at 'auto' or False"
        )
    if setting != "auto":
        return setting is True
    found = skewness(y)
    return found is not None and found > SKEWNESS


def skewed_target(y: np.ndarray, log: bool) -> SplitWarning | None:
    """A warning for a target of values >= 0 whose skewness passes ``SKEWNESS``: even
    standardized, its squared errors are ruled by its largest values (prices, counts);
    ``log``: whether the network learns its log."""
    found = skewness(y)
    if found is None or found <= SKEWNESS or log:
        return None
    values = np.asarray(y, dtype="float64")
    return SplitWarning(
        "skewed_target",
        (
            f"the target is skewed (skewness {found:.1f}, largest {values.max():.4g} against "
            f"a median of {np.median(values):.4g}): its largest values rule the squared "
            "error; log_target='auto' (the default) or True learns its log"
        ),
    )


@dataclass(frozen=True)
class Prepared:
    """A study's data, loaded and checked once per process, with its task and settings."""

    data: Data
    task: Task
    settings: TrialSettings
    class_names: list[str] | None = None
    scaling: InputScaling = InputScaling("none")
    scaling_rule: ScalingRule = ScalingRule()
    folds: tuple[Fold, ...] = ()
    warnings: tuple[SplitWarning, ...] = ()
    target_scale: TargetScale | None = None  # regression only
    class_weight: dict[int, float] | None = None  # class_weight="balanced"
    trivial: Trivial | None = None  # what a model that ignores the inputs scores

    @property
    def validation_rows(self) -> int:
        """The rows one validation score is taken on; 0 where folds score each trial."""
        return 0 if self.folds else len(self.data.y_val)


def prepare(study: Study) -> Prepared:
    """Load and check the data once per process; settle the task and the objective.

    A data callable with a ``seed`` parameter is given the study's seed, for
    its shuffled splits. The splits are checked (``tuner.data.split_checks``) before
    any trial: what would make the score lie is refused, what may is returned
    as warnings.
    """
    data = load_data(study)
    if data.columns is not None and study.categorical:
        raise StudyConfigError(
            "categorical: a DataFrame study knows its category columns; leave categorical unset"
        )
    data, label_names = encode_labels(data)
    task = infer_task(data.y_train, study.task)
    check(data, task)
    objective = study.objective_for(task)
    settings = TrialSettings(study, objective, study.direction_for(objective))
    class_names = list(study.class_names) if study.class_names else label_names
    warnings = check_splits(data, task, class_names)
    log = task.kind == "regression" and learns_log(data.y_train, study.log_target)
    if task.kind == "regression":
        warnings += tuple(w for w in (skewed_target(data.y_train, log),) if w)
    rule = ScalingRule(
        study.normalize,
        data.columns.categorical if data.columns else tuple(study.categorical),
        impute=data.columns is not None,
    )
    folds = make_folds(data, task, study.cv, study.seed, rule) if study.cv else ()
    scale = target_scale(data.y_train, log) if task.kind == "regression" else None
    return Prepared(
        data=data,
        task=task,
        settings=settings,
        class_names=class_names,
        scaling=rule.fit(data.x_train),
        scaling_rule=rule,
        folds=folds,
        warnings=warnings,
        target_scale=scale,
        trivial=trivial_baseline(data, task, objective, class_names, scale.loss if scale else None),
        class_weight=balanced_weights(data.y_train, task)
        if study.class_weight == "balanced"
        else None,
    )


def balanced_weights(y: np.ndarray, task: Task) -> dict[int, float]:
    """Each class's weight ``n / (k * count)``: every class weighs as much in the loss."""
    if task.kind not in ("binary", "multiclass"):
        raise StudyConfigError(
            f"class_weight: for binary and multiclass studies; this one is {task.kind}"
        )
    labels = class_indices(y, task)
    classes, counts = np.unique(labels, return_counts=True)
    return {
        int(k): float(len(labels) / (len(classes) * c))
        for k, c in zip(classes, counts, strict=True)
    }
