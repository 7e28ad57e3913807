"""A search as ``tuner.run`` starts it: the study, its stores, the figures process, workers.

The start order matters on two cores: the study file is loaded first (a bad
one fails before any library loads), then a new tracking store is created,
or the figures process loads, on the core that TensorFlow's import leaves
idle (``figures_process_first``). The modules that train are imported after
that, inside ``search``: this module itself loads no heavy library, so
``import tuner`` stays light for study files. A study whose ``finalize``
setting asks for it is finalized after the search.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from tuner.core.errors import StudyConfigError
from tuner.core.options import RunOptions
from tuner.core.study import FinalizeSettings, Study
from tuner.core.studyfile import load_study_file
from tuner.data.loading import load_data, loaded_once
from tuner.jobs.result import Result
from tuner.runtime import machine, process


@contextlib.contextmanager
def figures_process_first(creating_store: bool, trains_here: bool) -> Iterator[None]:
    """Start the figures process before or after TensorFlow loads, whichever core is idle.

    A new tracking store is created by a second process while TensorFlow
    loads on the other core; where there is none to create, the figures
    process loads there instead (with both beside TensorFlow's import, the
    first trial started 2 s later). The body imports TensorFlow. (The figures process
    runs ``report_process`` as its main module: imported here, not by ``import tuner``.)
    """
    from tuner.tracking.figures import report_process

    if trains_here and not creating_store:
        report_process.start()
    yield
    if trains_here and creating_store:
        report_process.start()


def search(study: str | Path | Study, options: RunOptions,
           overrides: Mapping[str, Any] | None = None) -> Result:
    """Run (or continue) the study, then finalize it if its ``finalize`` setting says so.

    ``study`` is a study file's path or a ``Study`` itself (from a notebook);
    workers and ``tuner finalize NAME`` then have no file to load it from.
    ``overrides`` are study settings given apart from the file (``seed=1``).
    """
    overrides = dict(overrides or {})
    began = time.time()  # the time budget counts from here
    with process.libraries_loading():
        if isinstance(study, Study):
            if options.workers > 1:
                raise StudyConfigError("workers: several workers load the study from its file; "
                                       "pass the study file's path instead of a Study")
            loaded, source = dataclasses.replace(study, **overrides), {}
            if loaded.name is None:
                raise StudyConfigError("name: a tuner.Study run from Python needs a name, "
                                       "such as tuner.Study(..., name='cars'); a study file's "
                                       "is its file's name")
        else:
            loaded = load_study_file(study, overrides)  # before TensorFlow: bad files fail fast
            source = {"tuner.study_file": str(Path(study).resolve()),
                      "tuner.overrides": _as_json(overrides)}
        if options.workers > 1:  # before TensorFlow loads: no worker without a trial
            trials = options.for_study(loaded).trials
            machine.check_capacity(options.workers if trials is None else min(
                options.workers, trials), machine.available_memory())
    if options.workers == 1:
        # Before TensorFlow loads, so that a data problem fails in seconds; with the
        # collector on, as the user's loader expects.
        loaded = dataclasses.replace(loaded, data=loaded_once(load_data(loaded)))
    with process.libraries_loading():
        from tuner.runtime import stores  # Optuna and SQLAlchemy
        from tuner.runtime.store_creation import start_tracking_store

        found = stores.resolve(options.tracking_uri, options.storage)
        creating = start_tracking_store(found.tracking_uri)
        with figures_process_first(creating, trains_here=options.workers == 1):
            process.quiet_libraries(debug=options.debug)
        # TensorFlow is loaded: the modules that train
        from mlflow.tracking import MlflowClient

        from tuner.data.prepare import prepare
        from tuner.jobs.finalize import finalize
        from tuner.jobs.study_run import run_study
        from tuner.jobs.workers import run_workers

        options = dataclasses.replace(
            options.for_study(loaded).started_at(began), tracking_uri=found.tracking_uri,
            storage=found.storage_url, progress=options.progress and options.workers == 1,
            keras_tuner_dir=str(stores.STORE_DIR.resolve() / "keras-tuner"),
            source_tags=source)
    if options.workers > 1:
        outcome = run_workers(str(study), overrides, loaded, options)
    else:
        outcome = run_study(loaded, options)
    settings = FinalizeSettings.of(loaded.finalize)
    finalized = None
    if settings and outcome.best:
        finalized = finalize(MlflowClient(found.tracking_uri), loaded, prepare(loaded),
                             settings).summary()
    return Result(loaded.name, outcome, found.tracking_uri, finalized)


def _as_json(overrides: Mapping[str, object]) -> str:
    """The overrides of a study file as the tag that lets a later command apply them again;
    only plain values can be (a space or a sampler object cannot)."""
    for key, value in overrides.items():
        try:
            json.dumps(value)
        except TypeError:
            raise StudyConfigError(
                f"{key}: a study file's setting can be overridden with a plain value (a "
                f"number, a string, a list), not a {type(value).__name__}; change it in the "
                "file, or run a tuner.Study") from None
    return json.dumps(overrides)
