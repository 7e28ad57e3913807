"""Row indices of shuffled, stratified splits, drawn from a seed."""

from __future__ import annotations

import numpy as np

from tuner.core.errors import DataError, first_line
from tuner.data.targets import looks_continuous


def count_rows(name: str, share: int | float, n_rows: int) -> int:
    """Rows for a split given as a count, or as a fraction in (0, 1) of ``n_rows``."""
    if n_rows < 2:
        raise DataError(
            f"{n_rows} row(s) cannot be split into training and {name}: each split needs a "
            "row at least; add rows"
        )
    count = int(round(n_rows * share)) if 0 < share < 1 else int(share)
    if isinstance(share, bool) or not 0 < count < n_rows:
        raise DataError(
            f"{name}: expected a count between 1 and {n_rows - 1} or a fraction "
            f"in (0, 1), received {share!r}"
        )
    return count


def shuffled_split(
    n_rows: int,
    y: np.ndarray,
    *,
    validation: int | float,
    test: int | float,
    seed: int,
    stratify: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of training, validation and test (empty when ``test`` is 0), drawn at
    random from ``seed``; stratified by class where ``stratify`` and the labels are classes."""
    rows = np.arange(n_rows)
    names = ["training", "validation"] + (["test"] if test else [])
    if n_rows < len(names):
        raise DataError(
            f"{n_rows} row(s) cannot be split into {', '.join(names)}: each "
            f"split needs a row at least; add rows"
        )
    n_test = count_rows("test", test, n_rows) if test else 0
    n_val = count_rows("validation", validation, n_rows)  # fractions are of all rows
    if n_rows - n_test - n_val < 1:
        raise DataError(f"validation and test leave no training rows of {n_rows}")
    labels = _strata(y) if stratify else None
    splits = [n for n in (n_test, n_val) if n]
    if labels is not None:
        classes, counts = np.unique(labels, return_counts=True)
        if len(classes) < 2:
            raise DataError(
                f"the target holds a single class ({classes[0].item()!r}); "
                "a classifier needs rows of two or more"
            )
        if counts.min() < len(splits) + 1:
            smallest = classes[counts.argmin()].item()
            raise DataError(
                f"class {smallest!r} has {counts.min()} rows, too few to stratify "
                f"into {len(splits) + 1} splits; add rows of it, drop it, "
                "or pass stratify=False (the target was read as classes: for a "
                "quantity, also set task='regression' on the study)"
            )
    held_out = np.array([], dtype="int64")
    if n_test:
        rows, held_out = _draw(rows, n_test, labels, seed)
    train, val = _draw(rows, n_val, labels, seed + 1)
    return train, val, held_out


def _draw(
    rows: np.ndarray, n: int, labels: np.ndarray | None, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    try:
        kept, drawn = train_test_split(
            rows, test_size=n, random_state=seed, stratify=None if labels is None else labels[rows]
        )
    except ValueError as exc:  # a class too small for the share asked
        raise DataError(
            f"cannot stratify the split: {first_line(exc)}; add rows, or pass stratify=False"
        ) from None
    return np.sort(kept), np.sort(drawn)


def _strata(y: np.ndarray) -> np.ndarray | None:
    """Class labels to stratify by: a single column of classes, else None (regression, wide)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        return None
    if y.dtype.kind in "OUSb":
        return np.array([str(v) for v in y])
    return None if looks_continuous(y) else y
