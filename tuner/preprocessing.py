"""Input scaling that travels inside the model, fitted on the training split only.

Tabular features get a Keras ``Normalization`` layer (mean and variance of the
training split); images with pixel values above 1 (0-255, say) a ``Rescaling``
layer. A logged or promoted model then takes raw inputs, as ``tuner predict``
gives them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import keras
import numpy as np

from tuner.errors import StudyConfigError


@dataclass(frozen=True)
class InputScaling:
    """Which scaling layer the models of a study start with, and its fitted values."""

    kind: Literal["none", "normalize", "rescale"]
    mean: np.ndarray | None = None
    variance: np.ndarray | None = None
    scale: float = 1.0

    def layers(self) -> list[keras.layers.Layer]:
        if self.kind == "normalize":
            return [keras.layers.Normalization(mean=self.mean, variance=self.variance)]
        if self.kind == "rescale":
            return [keras.layers.Rescaling(self.scale)]
        return []

    def describe(self) -> str:
        return f"rescale x{self.scale:.4g}" if self.kind == "rescale" else self.kind


def choose(x_train: np.ndarray, setting: bool | str) -> InputScaling:
    """``"auto"``: normalize tabular data, rescale images above [0, 1], else nothing."""
    if setting not in (True, False, "auto"):
        raise StudyConfigError(f"normalize: expected True, False or 'auto', received {setting!r}")
    if setting is False:
        return InputScaling("none")
    images = x_train.ndim >= 3
    if images:
        peak = float(np.max(x_train))
        return InputScaling("rescale", scale=1.0 / peak) if peak > 1.0 else InputScaling("none")
    adapted = keras.layers.Normalization()
    adapted.adapt(x_train.astype("float32"))
    return InputScaling("normalize", mean=np.asarray(adapted.mean)[0],
                        variance=np.asarray(adapted.variance)[0])
