"""The data a study trains on: training, validation and optional test arrays.

A study's data callable returns a ``Data``: training, validation and
(optionally) test arrays. ``Data.split`` keeps the last rows of the training
set for validation, as the Keras tutorials do with Fashion-MNIST, or a
shuffled, stratified share of them; ``Data.from_frame`` and ``Data.from_csv``
take tabular data as pandas reads it (``tuner.data.frames``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tuner.data.splitting import count_rows, shuffled_split

if TYPE_CHECKING:
    import pandas as pd

    from tuner.data.frames import Columns


@dataclass(frozen=True)
class Data:
    """Training, validation and optional test arrays."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None

    columns: Columns | None = None  # a frame's feature columns (from_frame, from_csv)

    @classmethod
    def split(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        *,
        validation: int | float,
        x_test: np.ndarray | None = None,
        y_test: np.ndarray | None = None,
        shuffle: bool = False,
        stratify: bool = False,
        seed: int = 0,
    ) -> Data:
        """``validation`` rows (a count, or a fraction < 1) of ``x`` for validation.

        By default the last rows, as the Keras tutorials split Fashion-MNIST;
        ``shuffle`` draws them at random from ``seed``, ``stratify`` also keeps
        each class's share (and implies ``shuffle``).
        """
        if not (shuffle or stratify):
            n_val = count_rows("validation", validation, len(x))
            return cls(x[:-n_val], y[:-n_val], x[-n_val:], y[-n_val:], x_test, y_test)
        train, val, _ = shuffled_split(
            len(x), y, validation=validation, test=0, seed=seed, stratify=stratify
        )
        return cls(x[train], y[train], x[val], y[val], x_test, y_test)

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        target: str | Sequence[str],
        *,
        validation: float = 0.2,
        test: float = 0.2,
        seed: int = 0,
        stratify: bool = True,
        columns: Sequence[str] | None = None,
        drop: Sequence[str] = (),
    ) -> Data:
        """A DataFrame's rows, shuffled and split (stratified by class); see ``tuner.frames``.

        Numbers, strings, booleans and categoricals; missing cells allowed.
        ``columns`` names the feature columns to use (default: all but the
        target), ``drop`` those to leave out.
        """
        from tuner.data.frames import select_columns, split_frame  # pandas: frame studies only

        frame = select_columns(frame, target, columns, drop)
        return cls(
            **split_frame(
                frame, target, validation=validation, test=test, seed=seed, stratify=stratify
            )
        )

    @classmethod
    def from_csv(
        cls,
        path: str | Path,
        target: str | Sequence[str],
        *,
        validation: float = 0.2,
        test: float = 0.2,
        seed: int = 0,
        stratify: bool = True,
        columns: Sequence[str] | None = None,
        drop: Sequence[str] = (),
    ) -> Data:
        """``from_frame`` on a CSV file with a header row."""
        from tuner.data.frames import read_csv

        return cls.from_frame(
            read_csv(path),
            target,
            validation=validation,
            test=test,
            seed=seed,
            stratify=stratify,
            columns=columns,
            drop=drop,
        )

    def splits(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The splits present, by name."""
        named = {"train": (self.x_train, self.y_train), "validation": (self.x_val, self.y_val)}
        if self.x_test is not None and self.y_test is not None:
            named["test"] = (self.x_test, self.y_test)
        return named
