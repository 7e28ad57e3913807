"""data/frames.py: columns that identify the rows are refused by name, whatever the row order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tuner.core.errors import DataError
from tuner.data.frames import split_frame


def table(n: int = 60, **extra: object) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "size": rng.normal(size=n),
            "colour": rng.choice(["red", "blue"], n),
            "label": rng.integers(0, 2, n),
            **extra,
        }
    )


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("rownames", "shuffled", r"column 'rownames' numbers the rows \(1\.\.60, each once\)"),
        ("row", "in order", r"column 'row' numbers the rows \(0\.\.59, each once\)"),
        ("rownames", "pre-split", r"column 'rownames' is named like an identifier"),
        ("customer_id", "pre-split", r"column 'customer_id' is named like an identifier"),
        ("Unnamed: 0", "pre-split", r"column 'Unnamed: 0' is named like an identifier"),
    ],
)
def test_a_column_that_identifies_rows_is_refused_by_name(column, values, message):
    rng = np.random.default_rng(1)
    ids = {
        "shuffled": rng.permutation(np.arange(1, 61)),
        "in order": np.arange(60),
        "pre-split": np.sort(rng.choice(np.arange(1, 200), 60, replace=False)),  # gaps
    }[values]
    with pytest.raises(DataError, match=message + r".*drop it \(df\.drop\(columns="):
        split_frame(table(**{column: ids}), "label", validation=0.2, test=0.2)


def test_numbers_that_repeat_or_span_more_than_the_rows_stay_features():
    rng = np.random.default_rng(2)
    frame = table(
        year=rng.integers(1990, 2000, 60),  # repeats
        price=rng.choice(np.arange(1000, 5000), 60, replace=False),  # unique, not a range
    )
    fields = split_frame(frame, "label", validation=0.2, test=0.2)
    assert fields["columns"].names == ("size", "colour", "year", "price")


def test_a_copied_row_and_a_row_whose_twin_has_another_target_get_their_own_advice():
    from tuner.core.tasks import Task
    from tuner.data.containers import Data
    from tuner.data.split_checks import check_splits

    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 3)).astype("float32")  # measurements: a repeat is no chance
    y = rng.integers(0, 2, 200)
    x_val, y_val = x[:40].copy(), y[:40].copy()
    y_val[30:] = 1 - y_val[30:]  # 10 of the repeats carry the other class
    found = {w.kind: w.message for w in check_splits(Data(x, y, x_val, y_val), Task("binary", 1))}
    assert found["leakage"].startswith("30 of 40 validation rows repeat a training row, target")
    assert "df.drop_duplicates()" in found["leakage"]
    assert found["conflicting"].startswith(
        "10 of 40 validation rows repeat a training row's features with another target"
    )
