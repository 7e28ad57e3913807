"""The Python API: ``tuner.run`` does what ``tuner run`` does, and returns the result.

    import tuner
    result = tuner.run("studies/fashion.py", trials=10)
    result.best_value, result.best_params
    model = result.load_best_model()

The command line calls this function; its options are the keyword arguments.
"""

from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.core.errors import StudyConfigError
from tuner.core.options import RunOptions
from tuner.core.study import Study
from tuner.jobs import search as searching
from tuner.jobs.result import Result

if TYPE_CHECKING:
    import keras
    import pandas as pd

__all__ = ["Result", "frame_inputs", "run"]


def run(study: Study | str | Path, *, verbose: bool = True, **settings: Any) -> Result:
    """Run (or continue) a study: a study file's path, or a ``tuner.Study``.

    The keywords are ``tuner run``'s options (``RunOptions``: ``trials``,
    ``timeout``, ``workers``, ``engine``, ``algorithm``, ``storage``,
    ``tracking_uri``, ``stale_after``, ``retry_failed``, ``max_failures``,
    ``progress``, ``debug``); any other keyword overrides a study setting
    (``max_epochs=5``, ``seed=1``). Stores default to ``./mlruns`` as on the
    command line. With ``verbose`` the summary ``tuner run`` prints is printed.
    Raises ``tuner.TunerError`` (with the one line the command prints) on bad
    input; on Ctrl-C the running trial is recorded and
    ``tuner.Interrupted`` is raised.
    """
    options = {k: settings.pop(k) for k in RunOptions.keywords() if k in settings}
    unknown = sorted(set(settings) - {f.name for f in fields(Study)})
    if unknown:
        raise StudyConfigError(
            f"run: {unknown[0]!r} is neither an option of run nor a study "
            "setting (see docs/study-files.md)"
        )
    result = searching.search(study, RunOptions(**options), overrides=settings)
    if verbose:
        print(result.summary(), file=sys.stdout)
    return result


def frame_inputs(model: keras.Model, frame: pd.DataFrame) -> dict[str, Any]:
    """What a frame study's Keras model takes for ``frame``'s rows, one tensor per column:
    ``model.predict(tuner.frame_inputs(model, df))``, for the model of
    ``Result.load_best_model()`` or ``mlflow.keras.load_model``. Raises ``ValueError``
    naming a missing column, or a cell of a number column that is not a number."""
    from tuner.tracking.flavor.tuner_raw_rows import column_tensors

    return column_tensors(model, frame)
