"""Input preprocessing that travels inside the model, fitted on the training split only.

Tabular numbers are scaled one of two ways, a trial's ``feature_scaling``:
``standard`` (a Keras ``Normalization`` layer: the training split's mean and
variance) or ``robust`` (RealMLP's: centred on the median, divided by the
spread of the middle half, then smoothly clipped to about ±3, so outliers
keep their order without ruling the first layer). A trial's
``numeric_embedding="piecewise"`` adds the piecewise-linear encoding of
Gorishniy et al. (2022): per column, one feature per bin between the
training split's quantiles, 0 below the bin, 1 above it, linear inside.
Columns a study names ``categorical`` are one-hot encoded by an
``IntegerLookup`` whose vocabulary is the training split's codes (a column of
more than ``ONE_HOT_MAX`` categories gets a learned ``Embedding`` instead); a
code training never saw is encoded as the training split's shares of the
known ones (the average row, not an untrained slot; a zero embedding), so its
prediction lies among the known categories'; images with pixel values above 1
(0-255, say) get a ``Rescaling`` layer. Where a frame study's numbers have
gaps (NaN), each is filled with its column's training median, and a 0/1
column says which were missing, by Keras ops inside the model. A logged or
promoted model then takes raw inputs, as ``tuner predict`` gives them.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import keras
import numpy as np

from tuner.core.errors import DataError, StudyConfigError

ONE_HOT_MAX = 16  # more categories than this: a learned embedding instead of one-hot
EMBEDDING_WIDTH = 8
PIECEWISE_BINS = 16  # quantile bins per numeric column
SMOOTH_CLIP = 3.0  # robust scaling bends values past about ±3 towards it


@dataclass(frozen=True)
class InputScaling:
    """The preprocessing layers the models of a study start with, and their fitted values."""

    kind: Literal["none", "normalize", "rescale"]
    mean: np.ndarray | None = None
    variance: np.ndarray | None = None
    scale: float = 1.0
    n_features: int = 0
    categorical: tuple[int, ...] = ()
    vocabularies: tuple[tuple[int, ...], ...] = ()
    shares: tuple[tuple[float, ...], ...] = ()  # per categorical column: each code's share
    fill: tuple[float, ...] = ()  # per numeric column: the value of a missing number
    indicators: tuple[int, ...] = ()  # numeric columns (their order) that get a missing flag
    median: np.ndarray | None = None  # per numeric column, for robust scaling
    spread: np.ndarray | None = None  # per numeric column: its middle half's spread, as a std
    edges: tuple[tuple[float, ...], ...] = ()  # per numeric column: its quantile bin edges

    def layers(
        self, feature_scaling: str = "standard", numeric_embedding: str = "none"
    ) -> list[keras.layers.Layer]:
        """The layers for one trial's ``feature_scaling`` and ``numeric_embedding`` (both
        for tabular data only; images are rescaled as the study's data needs)."""
        plain = feature_scaling == "standard" and numeric_embedding == "none"
        if self.n_features and (self.categorical or self.fill or not plain):
            return [self._tabular_encoder(feature_scaling, numeric_embedding)]
        if self.kind == "normalize":
            return [keras.layers.Normalization(mean=self.mean, variance=self.variance)]
        if self.kind == "rescale":
            return [keras.layers.Rescaling(self.scale)]
        return []

    def _tabular_encoder(self, feature_scaling: str, numeric_embedding: str) -> keras.Model:
        """A functional sub-model of built-in layers only, so the saved model needs no code."""
        inputs = keras.Input(shape=(self.n_features,))
        numeric = [i for i in range(self.n_features) if i not in self.categorical]
        parts = []
        if numeric:
            columns = keras.ops.take(inputs, numeric, axis=1)
            if self.fill:
                missing = keras.ops.isnan(columns)
                columns = keras.ops.where(missing, np.array(self.fill, "float32"), columns)
                if self.indicators:
                    parts.append(
                        keras.ops.cast(
                            keras.ops.take(missing, list(self.indicators), axis=1), "float32"
                        )
                    )
            if self.kind == "normalize":
                parts.append(self._scaled(columns, feature_scaling))
            else:
                parts.append(columns)
            if numeric_embedding == "piecewise" and any(self.edges):
                parts.append(self._piecewise(columns))
        for column, vocabulary, shares in zip(
            self.categorical, self.vocabularies, self.shares, strict=True
        ):
            parts.append(_category_encoding(inputs[:, column], column, vocabulary, shares))
        outputs = keras.layers.Concatenate()(parts) if len(parts) > 1 else parts[0]
        return keras.Model(inputs, outputs, name="encode_columns")

    def _scaled(self, columns: keras.KerasTensor, feature_scaling: str) -> keras.KerasTensor:
        """Standardized, or robustly scaled and smoothly clipped: ``x / sqrt(1 + (x/3)²)``."""
        if feature_scaling != "robust":
            return keras.layers.Normalization(mean=self.mean, variance=self.variance)(columns)
        assert self.spread is not None  # fitted with the mean, for every numeric column
        centred = keras.layers.Normalization(
            mean=self.median, variance=np.square(self.spread), name="robust_scale"
        )(columns)
        bend = keras.ops.sqrt(1.0 + keras.ops.square(centred / SMOOTH_CLIP))
        return keras.ops.divide(centred, bend)

    def _piecewise(self, columns: keras.KerasTensor) -> keras.KerasTensor:
        """One feature per quantile bin of each numeric column, ``clip((x - low) / width,
        0, 1)``."""
        which, low, width = [], [], []
        for column, edges in enumerate(self.edges):
            for a, b in itertools.pairwise(edges):
                which.append(column)
                low.append(a)
                width.append(b - a)
        binned = keras.ops.take(columns, which, axis=1)
        position = (binned - np.array(low, "float32")) / np.array(width, "float32")
        return keras.ops.clip(position, 0.0, 1.0)

    def describe(self) -> str:
        text = f"rescale x{self.scale:.4g}" if self.kind == "rescale" else self.kind
        if self.categorical:
            text += f" + category columns {list(self.categorical)}"
        if self.indicators:
            text += f" + median fill and missing flags for {len(self.indicators)} columns"
        return text


def _category_encoding(
    codes: keras.KerasTensor, column: int, vocabulary: Sequence[int], shares: Sequence[float]
) -> keras.KerasTensor:
    """One-hot (an unseen code as the known codes' shares), or, past ``ONE_HOT_MAX``
    categories, a learned embedding whose unseen-code row stays zero."""
    codes = keras.ops.cast(codes, "int64")
    if len(vocabulary) <= ONE_HOT_MAX:
        one_hot = keras.layers.IntegerLookup(
            vocabulary=list(vocabulary), output_mode="one_hot", name=f"one_hot_{column}"
        )(codes)
        return _unseen_as_shares(one_hot, shares, name=f"unseen_{column}")
    index = keras.layers.IntegerLookup(vocabulary=list(vocabulary), name=f"index_{column}")(codes)
    layer = keras.layers.Embedding(len(vocabulary) + 1, EMBEDDING_WIDTH, name=f"embed_{column}")
    embedded = layer(index)
    table = np.asarray(layer.get_weights()[0])
    table[0] = 0.0  # the out-of-vocabulary row: no training row reaches it, so it stays 0
    layer.set_weights([table])
    return embedded


@dataclass(frozen=True)
class ScalingRule:
    """How a study fits its preprocessing to a training split (its own, a fold's, a refit's)."""

    normalize: bool | str = "auto"
    categorical: tuple[int, ...] = ()
    impute: bool = False

    def fit(self, x_train: np.ndarray) -> InputScaling:
        return choose(x_train, self.normalize, self.categorical, self.impute)


def choose(
    x_train: np.ndarray, setting: bool | str, categorical: Sequence[int] = (), impute: bool = False
) -> InputScaling:
    """``"auto"``: normalize tabular data, rescale images above [0, 1], else nothing.

    ``impute``: numbers may be missing (a frame study), so they are filled.
    """
    if setting not in (True, False, "auto"):
        raise StudyConfigError(f"normalize: expected True, False or 'auto', received {setting!r}")
    if categorical or impute:
        return _tabular(x_train, setting is not False, tuple(categorical), impute)
    if setting is False:
        return InputScaling("none")
    if x_train.ndim >= 3:
        peak = float(np.max(x_train))
        return InputScaling("rescale", scale=1.0 / peak) if peak > 1.0 else InputScaling("none")
    if x_train.ndim == 2:
        return _tabular(x_train, True, (), impute=False)
    mean, variance = _moments(x_train)
    return InputScaling("normalize", mean=mean, variance=variance)


def _tabular(
    x_train: np.ndarray, normalize: bool, categorical: tuple[int, ...], impute: bool = False
) -> InputScaling:
    if x_train.ndim != 2:
        raise StudyConfigError(
            f"categorical: needs tabular data (rows x columns), the training "
            f"features have shape {x_train.shape[1:]}"
        )
    n_features = x_train.shape[1]
    outside = [c for c in categorical if c >= n_features]
    if outside:
        raise StudyConfigError(
            f"categorical: column {outside[0]} does not exist; the data has "
            f"columns 0..{n_features - 1}"
        )
    vocabularies, shares = _vocabularies(x_train, categorical)
    numbers = x_train[:, [i for i in range(n_features) if i not in categorical]]
    fill: tuple[float, ...] = ()
    indicators: tuple[int, ...] = ()
    if impute and numbers.shape[1]:
        medians = np.nan_to_num(np.nanmedian(numbers, axis=0))  # an all-empty column: 0
        missing = np.isnan(numbers)
        fill = tuple(float(m) for m in medians)
        indicators = tuple(int(i) for i in np.flatnonzero(missing.any(axis=0)))
        numbers = np.where(missing, medians, numbers)
    mean = variance = None
    if normalize and numbers.shape[1]:
        mean, variance = _moments(numbers)
    return InputScaling(
        "normalize" if mean is not None else "none",
        mean=mean,
        variance=variance,
        n_features=n_features,
        categorical=categorical,
        vocabularies=vocabularies,
        shares=shares,
        fill=fill,
        indicators=indicators,
        **(_numeric_statistics(numbers) if numbers.shape[1] else {}),
    )


def _vocabularies(
    x_train: np.ndarray, categorical: tuple[int, ...]
) -> tuple[tuple[tuple[int, ...], ...], tuple[tuple[float, ...], ...]]:
    """Each category column's codes in training, and each code's share of the rows."""
    vocabularies, shares = [], []
    for column in categorical:
        values = x_train[:, column]
        if not np.all(np.mod(values, 1) == 0):
            raise DataError(
                f"categorical column {column} holds non-integer values such as "
                f"{values[np.mod(values, 1) != 0][0]}; give categories as integer "
                "codes (pandas: .cat.codes)"
            )
        codes, counts = np.unique(values, return_counts=True)
        vocabularies.append(tuple(int(v) for v in codes))
        shares.append(tuple(float(c) for c in counts / counts.sum()))
    return tuple(vocabularies), tuple(shares)


def _numeric_statistics(numbers: np.ndarray) -> dict[str, Any]:
    """Each numeric column's median, robust spread (the middle half's width over 1.349, a
    normal's standard deviation; else the standard deviation; else 1) and quantile bin
    edges (none for a column of two values or fewer: its scaled value says it all)."""
    numbers = numbers.astype("float64")
    q25, median, q75 = np.percentile(numbers, [25, 50, 75], axis=0)
    spread = (q75 - q25) / 1.349
    std = numbers.std(axis=0)
    spread = np.where(spread > 0, spread, np.where(std > 0, std, 1.0))
    edges = []
    for column in numbers.T:
        cuts = np.unique(np.quantile(column, np.linspace(0, 1, PIECEWISE_BINS + 1)))
        edges.append(tuple(float(v) for v in cuts) if len(np.unique(column)) > 2 else ())
    return {
        "median": median.astype("float32"),
        "spread": spread.astype("float32"),
        "edges": tuple(edges),
    }


def _unseen_as_shares(
    one_hot: keras.KerasTensor, shares: Sequence[float], name: str
) -> keras.KerasTensor:
    """Drop the out-of-vocabulary slot of ``IntegerLookup``'s one-hot (its first column):
    a known code keeps its column, an unseen one becomes ``shares``. A fixed ``Dense``
    whose first row is ``shares`` and the rest the identity, so the model needs no code."""
    k = len(shares)
    kernel = np.vstack([np.asarray(shares, "float32")[None, :], np.eye(k, dtype="float32")])
    layer = keras.layers.Dense(k, use_bias=False, trainable=False, name=name)
    encoded = layer(one_hot)
    layer.set_weights([kernel])
    return encoded


def _moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and variance, as ``Normalization.adapt`` computes them."""
    adapted = keras.layers.Normalization()
    adapted.adapt(x.astype("float32"))
    return np.asarray(adapted.mean)[0], np.asarray(adapted.variance)[0]
