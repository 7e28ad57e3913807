"""k-fold cross-validation for small data sets: the folds, made once per process.

The folds split the training and validation rows together (the test split is
left alone); classification folds are stratified by class. Each fold carries
its own preprocessing, adapted on that fold's training rows only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold

from tuner.core.errors import DataError
from tuner.core.tasks import Task
from tuner.data.containers import Data
from tuner.data.preprocessing import InputScaling, ScalingRule


@dataclass(frozen=True)
class Fold:
    """One fold's training and validation rows and the preprocessing fitted on them."""

    data: Data
    scaling: InputScaling


def make_folds(data: Data, task: Task, k: int, seed: int, rule: ScalingRule) -> tuple[Fold, ...]:
    x = np.concatenate([data.x_train, data.x_val])
    y = np.concatenate([data.y_train, data.y_val])
    if len(x) < k:
        raise DataError(f"cv: {k} folds need at least {k} rows, the data has {len(x)}")
    single_label = task.kind in ("binary", "multiclass") and not task.one_hot
    smallest = int(np.bincount(y.astype("int64")).min()) if single_label else len(x)
    if single_label and smallest >= k:
        splits = StratifiedKFold(k, shuffle=True, random_state=seed).split(x, y)
    else:  # too few rows of some class to stratify, or not single-label classes
        splits = KFold(k, shuffle=True, random_state=seed).split(x)
    return tuple(
        Fold(Data(x[train], y[train], x[val], y[val]), rule.fit(x[train])) for train, val in splits
    )
