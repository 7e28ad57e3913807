"""Checks of a study's splits before the first trial, whatever built them.

Refused (``DataError``): a classification split whose classes cannot give an
honest score: training with a single class, validation or test lacking a
class that training has, holding a single class, or holding a class that
training lacks. Multi-label data is checked per label column.

Warned (``SplitWarning``): feature rows of validation or test that repeat a
training row (leakage, or conflicting targets), class shares that differ between training and
another split by more than ``SHARE_GAP`` and by more than chance explains
(three standard errors of the share in a split that size), and a class under
``RARE_SHARE`` of training (accuracy can look fine while it is never predicted).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tuner.core.errors import DataError
from tuner.core.tasks import Task
from tuner.data.containers import Data
from tuner.data.targets import class_indices

SHARE_GAP = 0.10  # a class's share of rows, training vs another split
RARE_SHARE = 0.10  # a class this rare in training is easily never predicted
CHANCE_ROWS = 100  # fewer value combinations than this times the rows: repeats are chance
FIX = "split with tuner.Data.split(..., stratify=True) or tuner.Data.from_frame"


@dataclass(frozen=True)
class SplitWarning:
    """One warning: ``kind`` names the parent run's tag ``tuner.warning.<kind>``."""

    kind: str
    message: str


def check_splits(
    data: Data, task: Task, class_names: Sequence[str] | None = None
) -> tuple[SplitWarning, ...]:
    """Refuse splits that make the score lie; the warnings for those that may."""
    warnings = _repeats(data)
    if task.kind == "regression":
        return tuple(warnings)
    for where, splits, name in _class_columns(data, task, class_names):
        _refuse_missing_classes(splits, name, where)
        warnings += [w for w in (_share_gap(splits, name), _rare_class(splits, name, where)) if w]
    return tuple(warnings)


Namer = Callable[[int], str]


def _class_columns(
    data: Data, task: Task, class_names: Sequence[str] | None
) -> list[tuple[str, dict[str, np.ndarray], Namer]]:
    """Per class column (one, or one per label of a multi-label task): where it is, its
    labels per split, and how its classes are named."""
    splits = {split: np.asarray(y) for split, (_, y) in data.splits().items()}
    if task.kind == "multilabel":

        def label(j: int) -> str:
            return repr(class_names[j]) if class_names and j < len(class_names) else str(j)

        return [
            (
                f" (label column {label(j)})",
                {split: y[:, j].astype("int64") for split, y in splits.items()},
                str,
            )
            for j in range(task.n_outputs)
        ]
    labels = {split: class_indices(y, task) for split, y in splits.items()}

    def name(k: int) -> str:
        return repr(class_names[k]) if class_names and k < len(class_names) else str(k)

    return [("", labels, name)]


def _refuse_missing_classes(splits: dict[str, np.ndarray], name: Namer, where: str) -> None:
    train = set(np.unique(splits["train"]).tolist())
    if len(train) < 2:
        raise DataError(
            f"training split{where} holds a single class "
            f"{name(next(iter(train)))}; a classifier needs two or more; {FIX}"
        )
    for split in ("validation", "test"):
        if split not in splits:
            continue
        held = set(np.unique(splits[split]).tolist())
        if len(held) < 2:
            raise DataError(
                f"{split} split{where} holds a single class "
                f"{name(next(iter(held)))}, so its score says nothing; {FIX}"
            )
        if held - train:
            raise DataError(
                f"{split} split{where} holds class {name(min(held - train))} that "
                f"training lacks; {FIX}"
            )
        if train - held:
            raise DataError(
                f"{split} split{where} lacks class {name(min(train - held))} that "
                f"training has; {FIX}"
            )


def _share_gap(splits: dict[str, np.ndarray], name: Namer) -> SplitWarning | None:
    train = splits["train"]
    classes = np.unique(train)
    for split in ("validation", "test"):
        if split not in splits:
            continue
        held = splits[split]
        gap, k, share, held_share = max(
            (
                abs(np.mean(held == k) - np.mean(train == k)),
                k,
                np.mean(train == k),
                np.mean(held == k),
            )
            for k in classes
        )
        if gap > max(SHARE_GAP, 3 * np.sqrt(share * (1 - share) / len(held))):
            return SplitWarning(
                "class_shares",
                (
                    f"class {name(k)} makes {share:.0%} of training but {held_share:.0%} of "
                    f"{split}; {FIX}"
                ),
            )
    return None


def _rare_class(splits: dict[str, np.ndarray], name: Namer, where: str) -> SplitWarning | None:
    """Every class under ``RARE_SHARE`` of training, each with its share, and what to
    optimise instead of accuracy."""
    classes, counts = np.unique(splits["train"], return_counts=True)
    shares = counts / counts.sum()
    rare = [(c, s) for c, s in zip(classes, shares, strict=True) if s < RARE_SHARE]
    if not rare:
        return None
    if len(rare) == 1:
        subject = f"class {name(rare[0][0])} is {rare[0][1]:.1%} of training{where}: accuracy"
        pronoun = "it is"
    else:
        listed = ", ".join(f"{name(c)} ({s:.1%})" for c, s in rare)
        subject = f"classes {listed} are rare in training{where}: accuracy"
        pronoun = "they are"
    advice = (
        ""
        if where
        else (
            "; optimise objective='val_balanced_accuracy' (or 'val_macro_f1', 'val_auc') "
            "and set class_weight='balanced' on the study"
        )
    )
    return SplitWarning(
        "rare_class", f"{subject} can look fine while {pronoun} never predicted{advice}"
    )


def _repeats(data: Data) -> list[SplitWarning]:
    """Validation and test rows whose features equal a training row's, byte for byte,
    where such a repeat means a copied record: not where the columns have so few values
    that different people share a row (fewer combinations than ``CHANCE_ROWS`` times the
    training rows). A repeat with the training row's target is a copy (``leakage``); one
    with another target is a row no model can tell from it (``conflicting``)."""
    rows = _rows(data.x_train)
    if _few_combinations(rows):
        return []
    targets: dict[bytes, set[bytes]] = {}
    for row, y in zip(rows, _rows(np.asarray(data.y_train)), strict=True):
        targets.setdefault(row.tobytes(), set()).add(y.tobytes())
    copied, conflicting = [], []
    for split, (x, y_split) in data.splits().items():
        if split == "train":
            continue
        pairs = zip(_rows(x), _rows(np.asarray(y_split)), strict=True)
        seen = [y.tobytes() in targets[r.tobytes()] for r, y in pairs if r.tobytes() in targets]
        if sum(seen):
            copied.append(f"{sum(seen)} of {len(x)} {split} rows")
        if len(seen) - sum(seen):
            conflicting.append(f"{len(seen) - sum(seen)} of {len(x)} {split} rows")
    warnings = []
    if copied:
        warnings.append(
            SplitWarning(
                "leakage",
                f"{' and '.join(copied)} repeat a training row, target included, so their "
                "score is partly recall; drop duplicate rows before splitting "
                "(df.drop_duplicates())",
            )
        )
    if conflicting:
        warnings.append(
            SplitWarning(
                "conflicting",
                f"{' and '.join(conflicting)} repeat a training row's features with another "
                "target: no model can tell them apart, which caps every score; a feature that "
                "would is missing, or the target is noisy",
            )
        )
    return warnings


def _few_combinations(rows: np.ndarray) -> bool:
    """Whether the columns' distinct values (a gap counts as one) combine into fewer rows
    than ``CHANCE_ROWS`` times ``len(rows)``: then equal rows happen by chance. A column
    of mostly distinct values (a measurement) makes chance repeats unlikely on its own."""
    enough = math.log(CHANCE_ROWS * len(rows))
    total = 0.0
    for i in range(rows.shape[1]):  # column by column: images pass after a few
        distinct = len(np.unique(rows[:, i]))
        total += math.log(distinct)
        if total >= enough or distinct >= len(rows) / 2:
            return False
    return True


def _rows(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x)
    return x.reshape(len(x), -1)
