"""An MLflow flavor for frame studies' models: the Keras flavor, with a pyfunc that takes rows.

MLflow's Keras flavor passes a DataFrame to the model as one array
(``df.values``) and accepts only tensor signatures, so a model with one
named input per column could not be called through ``mlflow.pyfunc`` or
``mlflow models serve``. ``save_model`` writes the Keras flavor as MLflow
does (``mlflow.keras.load_model`` loads it unchanged), then points the
pyfunc flavor at ``tuner/tracking/flavor/tuner_raw_rows.py``, copied into the model,
and records the column signature (names and types of the raw row).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import keras
import mlflow
from mlflow.models import Model, ModelSignature
from mlflow.pyfunc import FLAVOR_NAME as PYFUNC

LOADER = Path(__file__).parent / "tuner_raw_rows.py"
CODE_DIR = "code"


def save_model(
    path: str,
    mlflow_model: Model,
    model: keras.Model,
    signature: ModelSignature,
    **keras_options: Any,
) -> None:
    """``mlflow.keras.save_model``, then the raw-row pyfunc and the column signature.

    The Keras flavor is saved without the signature (it accepts tensor
    signatures only), so its warning that one is missing is held back.
    """
    keras_logger = logging.getLogger("mlflow.keras.save")
    level = keras_logger.level
    keras_logger.setLevel(logging.ERROR)
    try:
        mlflow.keras.save_model(model, path, mlflow_model=mlflow_model, **keras_options)
    finally:
        keras_logger.setLevel(level)
    code = Path(path) / CODE_DIR
    code.mkdir()
    shutil.copy(LOADER, code / LOADER.name)
    pyfunc = mlflow_model.flavors[PYFUNC]
    pyfunc.update(loader_module=LOADER.stem, code=CODE_DIR)
    mlflow_model.signature = signature
    mlflow_model.save(str(Path(path) / "MLmodel"))
