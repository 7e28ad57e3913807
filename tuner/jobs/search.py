"""A search as ``tuner.run`` starts it: the study, its stores, the figures process, workers.

The start order matters on two cores: the study file is loaded first (a bad
one fails before any library loads), then a new tracking store is created,
or the figures process loads, on the core that TensorFlow's import leaves
idle (``runtime.process.load_training_libraries``). The modules that train are
imported after that, inside ``search``: this module itself loads no heavy
library, so ``import tuner`` stays light for study files. A study whose ``finalize``
setting asks for it is finalized after the search.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tuner.core.errors import StudyConfigError
from tuner.core.options import RunOptions, SearchContext
from tuner.core.study import FinalizeSettings, Study
from tuner.core.studyfile import load_study_file
from tuner.data.loading import load_data, loaded_once
from tuner.jobs.result import Result
from tuner.runtime import machine, process
from tuner.tracking import keys


def search(
    study: str | Path | Study, options: RunOptions, overrides: Mapping[str, Any] | None = None
) -> Result:
    """Run (or continue) the study, then finalize it if its ``finalize`` setting says so.

    ``study`` is a study file's path or a ``Study`` itself (from a notebook);
    workers and ``tuner finalize NAME`` then have no file to load it from.
    ``overrides`` are study settings given apart from the file (``seed=1``).
    """
    overrides = dict(overrides or {})
    began = time.time()  # the time budget counts from here
    with process.libraries_loading():
        loaded, source = _load(study, options, overrides)
    if options.workers == 1:
        # Before TensorFlow loads, so that a data problem fails in seconds; with the
        # collector on, as the user's loader expects.
        loaded = dataclasses.replace(loaded, data=loaded_once(load_data(loaded)))
    with process.libraries_loading():
        context = _start(loaded, options, source, began)
        # TensorFlow is loaded: the modules that train
        from tuner.data.prepare import prepare
        from tuner.jobs.coordinator import run_workers
        from tuner.jobs.finalize import finalize
        from tuner.jobs.study_run import run_study
        from tuner.tracking.patient import PatientClient
    if options.workers > 1:
        outcome = run_workers(str(study), overrides, loaded, context)
    else:
        outcome = run_study(loaded, context)
    settings = FinalizeSettings.of(loaded.finalize)
    finalized = None
    if settings and outcome.best:
        finalized = finalize(
            PatientClient(context.tracking_uri), loaded, prepare(loaded), settings
        ).summary()
    return Result(loaded.stored_name, outcome, context.tracking_uri, finalized)


def _load(
    study: str | Path | Study, options: RunOptions, overrides: Mapping[str, Any]
) -> tuple[Study, dict[str, str]]:
    """The study with its overrides, and the tags that let a later command load it again;
    checked before any library loads (a bad study file fails fast), and the machine's
    memory for ``options.workers``."""
    if isinstance(study, Study):
        if options.workers > 1:
            raise StudyConfigError(
                "workers: several workers load the study from its file; "
                "pass the study file's path instead of a Study"
            )
        loaded, source = dataclasses.replace(study, **overrides), {}
        loaded.stored_name  # noqa: B018 - a Study from Python must be named
    else:
        loaded = load_study_file(study, overrides)
        source = {keys.STUDY_FILE: str(Path(study).resolve()), keys.OVERRIDES: _as_json(overrides)}
    if options.workers > 1:  # before TensorFlow loads: no worker without a trial
        trials = options.for_study(loaded).trials
        machine.check_capacity(
            options.workers if trials is None else min(options.workers, trials),
            machine.available_memory(),
        )
    return loaded, source


def _start(
    study: Study, options: RunOptions, source: Mapping[str, str], began: float
) -> SearchContext:
    """The stores resolved (a new tracking store begun), TensorFlow and the figures
    process started on both cores; the context of this search."""
    from tuner.runtime import stores  # Optuna and SQLAlchemy
    from tuner.tracking.figures import report_process  # here, not by `import tuner`

    found = stores.resolve(options.tracking_uri, options.storage)
    process.load_training_libraries(
        new_tracking_store=found.tracking_uri,
        start_helper=report_process.start if options.workers == 1 else None,
        debug=options.debug,
    )
    return SearchContext.starting(
        dataclasses.replace(
            options.for_study(study), progress=options.progress and options.workers == 1
        ),
        began,
        tracking_uri=found.tracking_uri,
        storage=found.storage_url,
        keras_tuner_dir=str(stores.STORE_DIR.resolve() / "keras-tuner"),
        source_tags=source,
    )


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
                "file, or run a tuner.Study"
            ) from None
    return json.dumps(overrides)
