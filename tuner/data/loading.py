"""A study's data, loaded before TensorFlow is: a data problem fails in seconds.

Nothing here imports Keras; ``Data.from_frame`` and ``from_csv`` check their
columns with pandas alone.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from tuner.core.errors import DataError, TunerError
from tuner.core.study import Study
from tuner.data.containers import Data


def load_data(study: Study) -> Data:
    """The study's ``Data``; an error of the user's loader becomes one ``DataError`` line."""
    takes_seed = "seed" in inspect.signature(study.data).parameters
    try:
        data = study.data(seed=study.seed) if takes_seed else study.data()
    except TunerError:
        raise
    except Exception as exc:
        raise DataError(
            f"the data loader of study {study.name!r} raised {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(data, Data):
        raise DataError(
            f"the data loader of study {study.name!r} must return tuner.Data, "
            f"received {type(data).__name__}"
        )
    return data


def loaded_once(data: Data) -> Callable[[], Data]:
    """A study's ``data`` setting that returns ``data``, loaded already."""

    def load() -> Data:
        return data

    return load
