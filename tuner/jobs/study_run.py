"""One process's search: open the stores and the parent run, search, close it.

``run_study`` is what a single ``tuner run`` process and each worker of
``--workers N`` do.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Iterator

import numpy as np

from tuner.core.errors import Interrupted, StoreError
from tuner.core.options import SearchContext
from tuner.core.space import Float
from tuner.core.study import Study
from tuner.core.tasks import Task
from tuner.data.prepare import Prepared, prepare
from tuner.engines.base import Engine, SearchOutcome
from tuner.engines.optuna_engine import OptunaEngine
from tuner.engines.trial import TrialRunner
from tuner.jobs.lr_find import auto_learning_rate
from tuner.jobs.summary import champion_warnings
from tuner.runtime.store_creation import await_tracking_store, discard_tracking_store
from tuner.runtime.stores import redact, store_failure
from tuner.tracking import keys
from tuner.tracking.figures.report_process import ReportQueue
from tuner.tracking.figures.study_plots import StudyPlotsInputs
from tuner.tracking.housekeeping import close_runs_of_dead_owners
from tuner.tracking.lineage import dataset_inputs
from tuner.tracking.models import VALIDATION_OUTPUTS, load_array
from tuner.tracking.runs import Tracker


def make_engine(study: Study, prepared: Prepared, context: SearchContext) -> Engine:
    if context.options.engine == "keras-tuner":
        from tuner.engines.keras_tuner_engine import KerasTunerEngine

        return KerasTunerEngine(study, prepared, context, context.options.algorithm)
    return OptunaEngine(study, prepared, context)


def open_run(study: Study, context: SearchContext) -> tuple[Prepared, Engine, Tracker]:
    """Everything a search needs, stores created; the parent run is opened (or joined).

    A new tracking store that ``jobs.search`` began is finished while the data
    loads (and removed if the data is refused); otherwise MLflow creates it here.
    """
    try:
        prepared = prepare(study)
    except BaseException:
        discard_tracking_store(context.tracking_uri)
        raise
    await_tracking_store(context.tracking_uri)
    searched = auto_learning_rate(study, prepared, context.tracking_uri)
    found = {}
    if searched is not study:
        rates = searched.space.learning_rate
        assert isinstance(rates, Float)  # the range the finding put in place of 'auto'
        found["learning_rate_found"] = f"{rates.low:.3g}..{rates.high:.3g}"
    tabular = prepared.data.x_train.ndim == 2
    study = dataclasses.replace(
        searched, space=searched.space.for_data(prepared.task.kind, tabular)
    )
    engine = make_engine(study, prepared, context)
    warned = {keys.warning(w.kind): w.message for w in prepared.warnings}
    if context.parent_run_id is None:
        for warning in prepared.warnings:
            print(f"warning: {warning.message}", file=sys.stderr)
    tracker = Tracker(
        context.tracking_uri,
        study.stored_name,
        engine.tags(),
        parent_run_id=context.parent_run_id,
        parent_tags={**context.source_tags, **warned},
    )
    if context.parent_run_id is None:  # runs an earlier process left open when it died
        close_runs_of_dead_owners(tracker.client, tracker.experiment_id)
    tracker.use_datasets(
        dataset_inputs(prepared.data, study.stored_name), on_parent=context.parent_run_id is None
    )
    if context.parent_run_id is None:
        tracker.log_study_params(_study_params(prepared, context, found))
    return prepared, engine, tracker


def _study_params(
    prepared: Prepared, context: SearchContext, found: dict[str, str]
) -> dict[str, object]:
    """The parent run's params: the settings, the task, the budget and the preprocessing."""
    return {
        **prepared.settings.as_params(),
        "task": prepared.task.kind,
        "n_trials": context.options.trials,
        "timeout": context.options.timeout,
        "preprocessing": prepared.scaling.describe(),
        **found,
    }


def run_study(study: Study, context: SearchContext) -> SearchOutcome:
    """Search, logging every trial; the parent run ends KILLED on Ctrl-C, FAILED on error.

    A worker (``context.parent_run_id`` set) leaves the parent run to the
    process that started it.
    """
    prepared, engine, tracker = open_run(study, context)
    runner = TrialRunner(prepared, tracker, context.deadline)
    status, failed_store = "FAILED", None
    try:
        outcome = engine.search(runner)
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise Interrupted(engine.outcome()) from None
    except Exception as exc:
        failed_store = store_failure(exc)
        if failed_store is None:
            raise
        raise StoreError(
            f"a store refused a write ({failed_store}): tracking {redact(context.tracking_uri)}, "
            f"storage {redact(context.storage)}; free space (or release the lock), then run "
            "the same command to continue: what is recorded stays"
        ) from exc
    finally:
        # With a store refusing writes, each of these records what it still can.
        with _unless_store_failed(failed_store):
            if context.parent_run_id is None:
                close_parent(tracker, status, engine, plots_to=runner.reports, task=prepared.task)
        with _unless_store_failed(failed_store):
            runner.finish()
        if failed_store:
            with _unless_store_failed(failed_store):
                engine.fail_running_trials_of_this_process()
    return outcome


def _warned(tracker: Tracker, outcome: SearchOutcome, task: Task | None) -> dict[str, str]:
    """The warnings about the best trial (``champion_warnings``), printed; as tags."""
    classes = None
    if outcome.best and outcome.best.run_id and task and task.kind in ("binary", "multiclass"):
        outputs = load_array(tracker.client, outcome.best.run_id, VALIDATION_OUTPUTS)
        if outputs is not None:
            outputs = np.asarray(outputs, dtype="float32")
            picked = outputs.argmax(axis=1) if outputs.shape[1] > 1 else outputs[:, 0] > 0.5
            classes = len(np.unique(picked))
    warnings = champion_warnings(outcome, classes)
    for message in warnings.values():
        print(f"warning: {message}", file=sys.stderr)
    return {keys.warning(kind): message for kind, message in warnings.items()}


@contextlib.contextmanager
def _unless_store_failed(failed_store: str | None) -> Iterator[None]:
    """Run the block; where a store has failed already, its errors are not raised again."""
    try:
        yield
    except Exception as exc:
        if failed_store is None or store_failure(exc) is None:
            raise


def close_parent(
    tracker: Tracker,
    status: str,
    engine: Engine,
    plots_to: ReportQueue | None = None,
    task: Task | None = None,
) -> None:
    """The parent run holds the study's counts, best value, params, run id and plots.

    Its status is set first, the artifacts after: a process ended while the plots
    are drawn leaves a closed run. The plots are drawn by the figures process where
    one serves the run (``plots_to``), else here.
    """
    outcome = engine.outcome()
    metrics: dict[str, float] = {
        f"trials_{state.lower()}": n for state, n in outcome.states.items()
    }
    tags: dict[str, str] = {}
    params: dict[str, object] = {}
    if outcome.trivial:
        metrics["trivial_value"] = outcome.trivial.value
    if outcome.best:
        metrics["best_value"] = outcome.best.value
        tags = {
            keys.BEST_TRIAL: str(outcome.best.number),
            keys.BEST_RUN_ID: str(outcome.best.run_id),
        }
        params = {f"best.{k}": v for k, v in outcome.best.params.items()}
        if status == "FINISHED":
            tags.update(_warned(tracker, outcome, task))
    tracker.end_study(status, metrics=metrics, tags=tags, params=params)
    if not outcome.best:
        return
    if outcome.best.run_id:
        tracker.mark_best(outcome.best.run_id)
    tracker.log_best_params(outcome.best.params)
    if plots_to is None:
        from tuner.tracking.figures.study_plots import study_plots_html  # imports plotly

        tracker.log_study_plots(study_plots_html(engine.optuna_view()))
    else:
        plots_to.submit(tracker.parent_run_id, StudyPlotsInputs.of(engine.optuna_view()))
