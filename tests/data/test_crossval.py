"""data/crossval.py: k folds over training and validation, each with its own preprocessing."""

from __future__ import annotations

import numpy as np
import pytest

from tuner.core.errors import DataError
from tuner.core.tasks import Task
from tuner.data.containers import Data
from tuner.data.crossval import make_folds
from tuner.data.preprocessing import ScalingRule


def data(n: int = 100, y: np.ndarray | None = None) -> Data:
    rng = np.random.default_rng(0)
    x = rng.normal(loc=5.0, scale=3.0, size=(n, 3)).astype("float32")
    y = np.repeat([0, 1], [n - n // 5, n // 5]) if y is None else y
    order = rng.permutation(n)
    x, y = x[order], y[order]
    return Data(x[:80], y[:80], x[80:], y[80:])


def test_each_row_is_validated_once_classes_are_stratified_and_scaling_is_per_fold():
    folds = make_folds(data(), Task("binary", 1), k=5, seed=0, rule=ScalingRule())
    assert len(folds) == 5
    validated = np.concatenate([f.data.x_val for f in folds])
    assert len(validated) == 100 and len(np.unique(validated, axis=0)) == 100
    for fold in folds:
        assert len(fold.data.x_train) == 80
        assert np.bincount(fold.data.y_val.astype(int)).tolist() == [16, 4]
        # adapted on the fold's own training rows, never its validation rows
        assert fold.scaling.kind == "normalize"
        assert np.allclose(np.ravel(fold.scaling.mean), fold.data.x_train.mean(axis=0), atol=1e-4)
    assert len({tuple(np.ravel(f.scaling.mean).round(4)) for f in folds}) == 5


def test_a_class_too_small_to_stratify_falls_back_to_plain_folds_and_too_few_rows_refuse():
    y = np.array([0] * 97 + [1] * 3)
    folds = make_folds(data(y=y), Task("binary", 1), k=5, seed=0, rule=ScalingRule())
    assert sum(len(f.data.x_val) for f in folds) == 100
    with pytest.raises(DataError, match="cv: 5 folds need at least 5 rows, the data has 4"):
        make_folds(
            Data(np.zeros((2, 1)), np.array([0, 1]), np.zeros((2, 1)), np.array([0, 1])),
            Task("binary", 1),
            k=5,
            seed=0,
            rule=ScalingRule(),
        )
