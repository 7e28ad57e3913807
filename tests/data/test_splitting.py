"""data/splitting.py: shuffled, stratified row indices drawn from a seed."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tuner.core.errors import DataError
from tuner.data.splitting import count_rows, shuffled_split


def test_every_row_lands_in_exactly_one_split_and_a_seed_draws_the_same_split():
    y = np.repeat([0, 1, 2], [60, 30, 10])
    train, val, test = shuffled_split(100, y, validation=0.2, test=10, seed=3, stratify=True)
    assert (len(train), len(val), len(test)) == (70, 20, 10)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(100))
    again = shuffled_split(100, y, validation=0.2, test=10, seed=3, stratify=True)
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again, strict=True))
    other = shuffled_split(100, y, validation=0.2, test=10, seed=4, stratify=True)
    assert not np.array_equal(val, other[1])


def test_stratified_splits_keep_each_class_share_and_regression_targets_are_not_stratified():
    y = np.repeat([0, 1], [90, 10])
    _, val, test = shuffled_split(100, y, validation=20, test=20, seed=0, stratify=True)
    assert np.bincount(y[val]).tolist() == [18, 2] and np.bincount(y[test]).tolist() == [18, 2]
    quantities = np.linspace(0, 1, 100)  # continuous: drawn without strata, no error
    train, val, test = shuffled_split(100, quantities, validation=20, test=0, seed=0, stratify=True)
    assert (len(train), len(val), len(test)) == (80, 20, 0)


@pytest.mark.parametrize(
    ("n_rows", "y", "settings", "message"),
    [
        (
            2,
            [0, 1],
            {"validation": 1, "test": 1},
            "2 row(s) cannot be split into training, validation, test",
        ),
        (10, [0] * 10, {"validation": 2, "test": 0}, "a single class"),
        (
            10,
            [0] * 9 + [1],
            {"validation": 2, "test": 2},
            "class 1 has 1 rows, too few to stratify",
        ),
        (10, list(range(10)), {"validation": 5, "test": 5}, "leave no training rows"),
    ],
)
def test_splits_that_cannot_be_made_say_why(n_rows, y, settings, message):
    with pytest.raises(DataError, match=re.escape(message)):
        shuffled_split(n_rows, np.array(y), seed=0, stratify=True, **settings)


def test_a_share_is_a_count_or_a_fraction_of_the_rows():
    assert count_rows("validation", 0.25, 100) == 25
    assert count_rows("validation", 7, 100) == 7
    for bad in (0, 100, 150, -0.5, True):
        with pytest.raises(DataError, match=r"validation: expected a count between 1 and 99"):
            count_rows("validation", bad, 100)


def test_no_rows_are_refused_in_one_line_from_arrays_or_a_split():
    import tuner
    from tuner.data.targets import infer_task

    with pytest.raises(DataError, match=r"0 row\(s\) cannot be split into training and valid"):
        tuner.Data.split(np.zeros((0, 3)), np.zeros(0), validation=0.2)
    with pytest.raises(DataError, match="train split is empty"):
        infer_task(np.zeros(0))
