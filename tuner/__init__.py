"""tuner: search Keras MLPs with Optuna, track every trial in MLflow.

A study file imports this package and defines ``study = tuner.Study(...)``;
``tuner.run(study_or_path, trials=...)`` runs it from Python.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # quiet TensorFlow's C++ start-up logs

from tuner.api import Result, frame_inputs, run  # noqa: E402
from tuner.core.errors import Interrupted, TunerError  # noqa: E402
from tuner.core.space import Choice, Float, Int, Space  # noqa: E402
from tuner.core.study import Study  # noqa: E402
from tuner.data.containers import Data  # noqa: E402

__all__ = [
    "Choice",
    "Data",
    "Float",
    "Int",
    "Interrupted",
    "Result",
    "Space",
    "Study",
    "TunerError",
    "frame_inputs",
    "run",
]
__version__ = "0.1.0"
