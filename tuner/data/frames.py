"""Tabular data as users have it: pandas DataFrames and CSV files.

``split_frame`` splits a frame (shuffled, stratified by class) and turns each
split into the float matrix the search trains on: numeric columns as they are
(a missing number stays NaN, filled inside the model), category columns as
the 1-based position of their value in the training split's vocabulary
(0 for a value training never saw). ``Columns`` remembers the names, kinds and
vocabularies, so a logged model is wrapped to take the raw row
(``raw_input_model``): one named input per column, strings looked up by
Keras's ``StringLookup`` with the same vocabulary.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from tuner.core.errors import DataError, first_line
from tuner.data.splitting import shuffled_split

if TYPE_CHECKING:
    import keras
    from mlflow.types import Schema


Kind = Literal["number", "category"]
MISSING = ""  # a missing category value; it gets a slot of its own when training has it
MAX_CATEGORIES = 1000  # more distinct values than this: free text or an identifier
RAW_ROWS = "raw_rows"  # the name of a model that takes raw rows
TEXT_SHARE = 0.5  # ... or more than 20 values, most of them distinct


@dataclass(frozen=True)
class Columns:
    """The feature columns of a frame study: names, kinds and category vocabularies."""

    names: tuple[str, ...]
    kinds: tuple[Kind, ...]
    vocabularies: tuple[tuple[str, ...], ...]  # () for a number column
    types: tuple[str, ...]  # each column's MLflow type in the logged model's signature

    @property
    def categorical(self) -> tuple[int, ...]:
        """Positions of the category columns in the encoded matrix."""
        return tuple(i for i, kind in enumerate(self.kinds) if kind == "category")

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """The float32 matrix of ``frame``: numbers (NaN where missing) and category codes."""
        encoded = np.empty((len(frame), len(self.names)), dtype="float32")
        for i, (name, kind, vocabulary) in enumerate(self.items()):
            if kind == "number":
                encoded[:, i] = pd.to_numeric(frame[name], errors="coerce").to_numpy(
                    "float32", na_value=np.nan
                )
            else:
                position = {value: k + 1 for k, value in enumerate(vocabulary)}
                encoded[:, i] = [position.get(v, 0) for v in category_values(frame[name])]
        return encoded

    def schema(self) -> Schema:
        """The raw row as MLflow's signature names it: each column's name and type."""
        from mlflow.types import ColSpec, Schema
        from mlflow.types.schema import AnyType

        return Schema(
            [
                ColSpec(AnyType() if kind == "any" else kind, name)
                for name, kind in zip(self.names, self.types, strict=True)
            ]
        )

    def items(self) -> zip:
        return zip(self.names, self.kinds, self.vocabularies, strict=True)

    def raw_input_model(self, network: keras.Model) -> keras.Model:
        """``network`` behind one named input per column: raw numbers and strings in.

        Built of Keras layers and ops only, so the saved model needs no code of
        tuner's: ``StringLookup`` maps each category to its training code.
        """
        import keras

        inputs = {
            name: keras.Input(
                (1,), name=_input_name(i, name), dtype="float32" if kind == "number" else "string"
            )
            for i, (name, kind, _) in enumerate(self.items())
        }
        parts = []
        for i, (name, kind, vocabulary) in enumerate(self.items()):
            if kind == "number":
                parts.append(inputs[name])
                continue
            codes = keras.layers.StringLookup(vocabulary=list(vocabulary), name=f"lookup_{i}")(
                inputs[name]
            )
            parts.append(keras.ops.cast(codes, "float32"))
        joined = keras.layers.Concatenate(name="columns")(parts) if len(parts) > 1 else parts[0]
        return keras.Model(inputs, network(joined), name=RAW_ROWS)

    @staticmethod
    def network_of(model: keras.Model) -> keras.Model:
        """The network inside a ``raw_input_model`` (as loaded back from MLflow)."""
        return model.layers[-1]


def _input_name(position: int, column: str) -> str:
    """A layer name Keras and TensorFlow accept, for any column name."""
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in column)
    return cleaned if cleaned and cleaned[0].isalpha() else f"column_{position}_{cleaned}"


def category_values(values: pd.Series) -> list[str]:
    """A category column as strings; a missing cell is ``MISSING``."""
    return [MISSING if pd.isna(v) else str(v) for v in values]


def read_columns(frame: pd.DataFrame, refused: Sequence[str] = ()) -> Columns:
    """Each feature column's kind, and the vocabulary of each category column.

    Numbers are numbers; strings, booleans and pandas categoricals are
    categories. Dates, free text and empty columns are refused by name, all
    of them (and the problems ``refused`` already found) in one ``DataError``.
    """
    names, kinds, vocabularies, types = [], [], [], []
    problems = list(refused)
    for name in frame.columns:
        values = frame[name]
        try:
            kind = _kind(str(name), values)
        except DataError as problem:
            problems.append(str(problem))
            continue
        names.append(str(name))
        kinds.append(kind)
        vocabularies.append(() if kind == "number" else tuple(sorted(set(category_values(values)))))
        types.append(_schema_type(values, kind))
    if problems:
        raise DataError(
            problems[0]
            if len(problems) == 1
            else f"{len(problems)} columns cannot be used: " + "; ".join(problems)
        )
    return Columns(tuple(names), tuple(kinds), tuple(vocabularies), tuple(types))


def _schema_type(values: pd.Series, kind: Kind) -> str:
    """MLflow's type for a column: ``any`` for numbers, whose cells the model's loader
    reads itself (MLflow's check refuses floats for a ``long`` column, so an empty cell,
    and whole numbers for a ``double`` one); categories ``string`` or ``boolean``."""
    if kind == "number":
        return "any"
    return "boolean" if values.dtype.kind == "b" else "string"


def _kind(name: str, values: pd.Series) -> Kind:
    if values.isna().all():
        raise DataError(
            f"column {name!r} is empty in the training split; drop it (df.drop(columns=[{name!r}]))"
        )
    if pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.is_timedelta64_dtype(values):
        raise DataError(
            f"column {name!r} holds dates or times, which the model cannot take; "
            f"turn them into numbers first (df[{name!r}].dt.year, .dt.dayofweek, ...)"
        )
    if pd.api.types.is_bool_dtype(values) or isinstance(values.dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_numeric_dtype(values):
        return "number"
    distinct = values.nunique(dropna=True)
    if distinct > MAX_CATEGORIES or distinct > 20 and distinct > TEXT_SHARE * values.count():
        example = _date_text(values)
        if example is not None:
            raise DataError(
                f"column {name!r} holds dates as text (such as {example!r}); turn "
                f"them into numbers first (pd.to_datetime(df[{name!r}]).dt.year, "
                f".dt.dayofweek, ...) or drop it"
            )
        raise DataError(
            f"column {name!r} has {distinct} distinct values in "
            f"{values.count()} rows: free text or an identifier, not a category; "
            f"drop it (df.drop(columns=[{name!r}]))"
        )
    return "category"


def select_columns(
    frame: pd.DataFrame,
    target: str | Sequence[str],
    columns: Sequence[str] | None = None,
    drop: Sequence[str] = (),
) -> pd.DataFrame:
    """``frame`` with only the feature ``columns`` (default: all) less ``drop``, and the
    target; a name the frame lacks is refused with the names it has."""
    if not isinstance(frame, pd.DataFrame) or (columns is None and not drop):
        return frame  # as it is; split_frame says what it expected of a non-frame
    targets = [target] if isinstance(target, str) else list(target)
    have = [str(c) for c in frame.columns]
    for setting, names in (("columns", columns or ()), ("drop", drop)):
        if isinstance(names, str):
            names = [names]
        unknown = [n for n in names if n not in have]
        if unknown:
            raise DataError(
                f"{setting}: no column {unknown[0]!r} in the frame; its columns are {have}"
            )
    if isinstance(drop, str):
        drop = [drop]
    kept = [
        c
        for c in (
            have if columns is None else [columns] if isinstance(columns, str) else list(columns)
        )
        if c not in drop and c not in targets
    ]
    return frame[kept + [t for t in targets if t in have]]


DATE_TEXT = re.compile(
    r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})"
    r"([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*$"
)


def _date_text(values: pd.Series) -> str | None:
    """A value of a text column whose cells are nearly all dates (2007-03-01, 03/01/2007,
    with or without a time), else None."""
    cells = [str(v) for v in values.dropna().head(200)]
    dates = [c for c in cells if DATE_TEXT.match(c)]
    return dates[0] if cells and len(dates) >= 0.9 * len(cells) else None


def split_frame(
    frame: pd.DataFrame,
    target: str | Sequence[str],
    *,
    validation: float = 0.2,
    test: float = 0.2,
    seed: int = 0,
    stratify: bool = True,
) -> dict[str, Any]:
    """Split ``frame`` (shuffled; stratified by class for a single class column) and encode
    it: ``Data``'s fields (``Data.from_frame`` builds it).

    The vocabularies are the training split's, so validation and test see
    unseen categories as a model in service would.
    """
    targets = _checked_targets(frame, target)
    features = frame.drop(columns=targets)
    row_numbers = _identifiers(features)
    if features.shape[1] == 0:
        raise DataError(f"the frame has no feature columns besides the target {targets}")
    y = _labels(frame, targets)
    train, val, held_out = shuffled_split(
        len(frame), y, validation=validation, test=test, seed=seed, stratify=stratify
    )
    columns = read_columns(features.iloc[train], refused=row_numbers)
    x = columns.encode(features)
    tested = len(held_out) > 0
    return {
        "x_train": x[train],
        "y_train": y[train],
        "x_val": x[val],
        "y_val": y[val],
        "x_test": x[held_out] if tested else None,
        "y_test": y[held_out] if tested else None,
        "columns": columns,
    }


def _checked_targets(frame: pd.DataFrame, target: str | Sequence[str]) -> list[str]:
    """The target columns of a frame that has rows, each target cell filled."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"from_frame: expected a pandas DataFrame, received {type(frame).__name__}")
    targets = [target] if isinstance(target, str) else list(target)
    missing = [t for t in targets if t not in frame.columns]
    if missing or not targets:
        raise DataError(
            f"target column {missing[0] if missing else target!r} is not in the "
            f"frame; its columns are {[str(c) for c in frame.columns]}"
        )
    if frame.empty:
        raise DataError("the frame has no rows")
    empty_targets = int(frame[targets].isna().any(axis=1).sum())
    if empty_targets:
        raise DataError(
            f"target {targets if len(targets) > 1 else targets[0]!r} is empty in "
            f"{empty_targets} rows; drop them first (df.dropna(subset={targets}))"
        )
    return targets


# Names that mark a column as a row's identifier (R's ``rownames``, pandas' saved index).
IDENTIFIER_NAME = re.compile(
    r"^(id|ids|rownames|row[ _.]?(names?|ids?|numbers?)|index|unnamed: ?0|key|.*[ _.]id)$",
    re.IGNORECASE,
)


def _identifiers(features: pd.DataFrame) -> list[str]:
    """What is wrong with each column that identifies the rows, whatever their order: whole
    numbers forming a range with each value once (R's ``rownames`` 1..N, shuffled or not),
    or a column named like an identifier with a different value in every row. As a
    feature it would teach the row's position, and hide duplicate rows."""
    problems = []
    for name in features.columns:
        values = features[name]
        if len(values) < 20 or values.isna().any() or not values.is_unique:
            continue
        what = None
        whole = values.dtype.kind in "iu"
        if whole and int(values.max()) - int(values.min()) + 1 == len(values):
            what = f"numbers the rows ({values.min()}..{values.max()}, each once)"
        elif IDENTIFIER_NAME.match(str(name)) and values.dtype.kind in "iuf":  # text: _kind
            what = "is named like an identifier and differs in every row"
        if what:
            problems.append(
                f"column {str(name)!r} {what}: an identifier, not a feature; "
                f"drop it (df.drop(columns=[{str(name)!r}]))"
            )
    return problems


def _labels(frame: pd.DataFrame, targets: list[str]) -> np.ndarray:
    """One target: its values (strings for classes are named by ``encode_labels``); several:
    a 0/1 or number matrix."""
    if len(targets) > 1:
        return frame[targets].astype("float32").to_numpy()
    values = frame[targets[0]]
    if pd.api.types.is_bool_dtype(values):
        return values.astype("int64").to_numpy()
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy()
    return np.array([str(v) for v in values], dtype=object)


def read_csv(path: str | Path) -> pd.DataFrame:
    """A CSV file with a header row, as pandas reads it (empty cells are missing)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"CSV file {path} does not exist")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"CSV file {path} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"CSV file {path} cannot be parsed: {first_line(exc)}") from None
    return frame
