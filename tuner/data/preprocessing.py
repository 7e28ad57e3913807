"""Input preprocessing that travels inside the model, fitted on the training split only.

Tabular features get a Keras ``Normalization`` layer (mean and variance of the
training split); columns a study names ``categorical`` are one-hot encoded by
an ``IntegerLookup`` whose vocabulary is the training split's codes; a code
training never saw is encoded as the training split's shares of the known
ones (the average row, not an untrained slot), so its prediction lies among
the known categories'; images with pixel values above 1
(0-255, say) get a ``Rescaling`` layer. Where a frame study's numbers have
gaps (NaN), each is filled with its column's training median, and a 0/1
column says which were missing, by Keras ops inside the model. A logged or
promoted model then takes raw inputs, as ``tuner predict`` gives them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import keras
import numpy as np

from tuner.core.errors import DataError, StudyConfigError


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

    def layers(self) -> list[keras.layers.Layer]:
        if self.categorical or self.fill:
            return [self._tabular_encoder()]
        if self.kind == "normalize":
            return [keras.layers.Normalization(mean=self.mean, variance=self.variance)]
        if self.kind == "rescale":
            return [keras.layers.Rescaling(self.scale)]
        return []

    def _tabular_encoder(self) -> keras.Model:
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
                columns = keras.layers.Normalization(mean=self.mean, variance=self.variance)(
                    columns
                )
            parts.append(columns)
        for column, vocabulary, shares in zip(
            self.categorical, self.vocabularies, self.shares, strict=True
        ):
            codes = keras.ops.cast(inputs[:, column], "int64")
            one_hot = keras.layers.IntegerLookup(
                vocabulary=list(vocabulary), output_mode="one_hot", name=f"one_hot_{column}"
            )(codes)
            parts.append(_unseen_as_shares(one_hot, shares, name=f"unseen_{column}"))
        outputs = keras.layers.Concatenate()(parts) if len(parts) > 1 else parts[0]
        return keras.Model(inputs, outputs, name="encode_columns")

    def describe(self) -> str:
        text = f"rescale x{self.scale:.4g}" if self.kind == "rescale" else self.kind
        if self.categorical:
            text += f" + one-hot columns {list(self.categorical)}"
        if self.indicators:
            text += f" + median fill and missing flags for {len(self.indicators)} columns"
        return text


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
        vocabularies=tuple(vocabularies),
        shares=tuple(shares),
        fill=fill,
        indicators=indicators,
    )


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
