"""``tuner run``: prepare a study once, open its stores, search, close the parent run."""

from __future__ import annotations

import inspect
import sys

from tuner.crossval import make_folds
from tuner.data import Data, check, encode_labels, infer_task
from tuner.engines.base import Engine, RunOptions, SearchOutcome
from tuner.engines.optuna_engine import OptunaEngine
from tuner.errors import DataError, Interrupted, StudyConfigError, TunerError
from tuner.lineage import dataset_inputs
from tuner.lr_find import auto_learning_rate
from tuner.preprocessing import ScalingRule
from tuner.report_process import ReportQueue
from tuner.splits import check_splits
from tuner.stores import await_tracking_store, discard_tracking_store, start_tracking_store
from tuner.study import Study
from tuner.study_plots import StudyPlotsInputs
from tuner.tracking import Tracker
from tuner.trial import Prepared, TrialRunner, TrialSettings


def prepare(study: Study) -> Prepared:
    """Load and check the data once per process; settle the task and the objective.

    A data callable with a ``seed`` parameter is given the study's seed, for
    its shuffled splits. The splits are checked (``tuner.splits``) before any
    trial: what would make the score lie is refused, what may is returned as
    warnings.
    """
    data = load_data(study)
    if data.columns is not None and study.categorical:
        raise StudyConfigError("categorical: a DataFrame study knows its category columns; "
                               "leave categorical unset")
    data, label_names = encode_labels(data)
    task = infer_task(data.y_train, study.task)
    check(data, task)
    objective = study.objective_for(task)
    settings = TrialSettings(study, objective, study.direction_for(objective))
    class_names = list(study.class_names) if study.class_names else label_names
    warnings = check_splits(data, task, class_names)
    rule = ScalingRule(study.normalize, data.columns.categorical if data.columns
                       else tuple(study.categorical), impute=data.columns is not None)
    folds = make_folds(data, task, study.cv, study.seed, rule) if study.cv else ()
    return Prepared(data=data, task=task, settings=settings, class_names=class_names,
                    scaling=rule.fit(data.x_train), scaling_rule=rule, folds=folds,
                    warnings=warnings)


def load_data(study: Study) -> Data:
    """The study's ``Data``; an error of the user's loader becomes one ``DataError`` line."""
    takes_seed = "seed" in inspect.signature(study.data).parameters
    try:
        data = study.data(seed=study.seed) if takes_seed else study.data()
    except TunerError:
        raise
    except Exception as exc:
        raise DataError(f"the data loader of study {study.name!r} raised "
                        f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(data, Data):
        raise DataError(f"the data loader of study {study.name!r} must return tuner.Data, "
                        f"received {type(data).__name__}")
    return data


def make_engine(study: Study, prepared: Prepared, options: RunOptions) -> Engine:
    if options.engine == "keras-tuner":
        from tuner.engines.keras_tuner_engine import KerasTunerEngine

        return KerasTunerEngine(study, prepared, options, options.algorithm)
    return OptunaEngine(study, prepared, options)


def open_run(study: Study, options: RunOptions) -> tuple[Prepared, Engine, Tracker]:
    """Everything a search needs, stores created; the parent run is opened (or joined)."""
    start_tracking_store(options.tracking_uri)  # created while the data loads, if new
    try:
        prepared = prepare(study)
    except BaseException:
        discard_tracking_store(options.tracking_uri)
        raise
    await_tracking_store(options.tracking_uri)
    searched = auto_learning_rate(study, prepared, options.tracking_uri)
    found = {}
    if searched is not study:
        rates = searched.space.learning_rate
        found["learning_rate_found"] = f"{rates.low:.3g}..{rates.high:.3g}"
    study = searched
    engine = make_engine(study, prepared, options)
    warned = {f"tuner.warning.{w.kind}": w.message for w in prepared.warnings}
    if options.parent_run_id is None:
        for warning in prepared.warnings:
            print(f"warning: {warning.message}", file=sys.stderr)
    tracker = Tracker(options.tracking_uri, study.name, engine.tags(),
                      parent_run_id=options.parent_run_id,
                      parent_tags={**options.source_tags, **warned})
    tracker.use_datasets(dataset_inputs(prepared.data, study.name),
                         on_parent=options.parent_run_id is None)
    if options.parent_run_id is None:
        tracker.log_study_params({**prepared.settings.as_params(), "task": prepared.task.kind,
                                  "n_trials": options.n_trials, "timeout": options.timeout,
                                  "preprocessing": prepared.scaling.describe(), **found})
    return prepared, engine, tracker


def run_study(study: Study, options: RunOptions) -> SearchOutcome:
    """Search, logging every trial; the parent run ends KILLED on Ctrl-C, FAILED on error.

    A worker (``options.parent_run_id`` set) leaves the parent run to the
    process that started it.
    """
    prepared, engine, tracker = open_run(study, options)
    runner = TrialRunner(prepared, tracker)
    status = "FAILED"
    try:
        outcome = engine.search(runner)
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise Interrupted(engine.outcome()) from None
    finally:
        try:
            if options.parent_run_id is None:
                close_parent(tracker, status, engine, plots_to=runner.reports)
        finally:
            runner.finish()
    return outcome


def close_parent(tracker: Tracker, status: str, engine: Engine,
                 plots_to: ReportQueue | None = None) -> None:
    """The parent run holds the study's counts, best value, params, run id and plots.

    The plots are drawn by the figures process where one serves the run
    (``plots_to``), else here.
    """
    outcome = engine.outcome()
    metrics = {f"trials_{state.lower()}": n for state, n in outcome.states.items()}
    tags: dict[str, str] = {}
    params: dict[str, object] = {}
    if outcome.best:
        metrics["best_value"] = outcome.best["value"]
        tags = {"tuner.best_trial": str(outcome.best["number"]),
                "tuner.best_run_id": str(outcome.best["run_id"])}
        params = {f"best.{k}": v for k, v in outcome.best["params"].items()}
        if outcome.best["run_id"]:
            tracker.mark_best(outcome.best["run_id"])
        tracker.log_best_params(outcome.best["params"])
        if plots_to is None:
            from tuner.study_plots import study_plots_html  # imports plotly

            tracker.log_study_plots(study_plots_html(engine.optuna_view()))
        else:
            plots_to.submit(tracker.parent_run_id, StudyPlotsInputs.of(engine.optuna_view()))
    tracker.end_study(status, metrics=metrics, tags=tags, params=params)
