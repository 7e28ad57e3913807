"""One trial, engine-neutral: open its MLflow run, build, train, log, close.

Every engine hands a trial number and a params dict to ``TrialRunner``, so the
logging of a trial exists once whichever engine proposed the parameters.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from tuner.core.errors import TrialFailed, TunerError, first_line
from tuner.data.inputs import choose as choose_pipeline
from tuner.data.prepare import Prepared
from tuner.keras.recipe import Recipe
from tuner.keras.training import EpochTimer, FitResult, predict, validation_batch_size
from tuner.runtime.interrupts import InterruptWatch
from tuner.tracking import keys
from tuner.tracking.figures.report import ReportInputs, collect
from tuner.tracking.figures.report_process import ReportQueue
from tuner.tracking.models import VALIDATION_OUTPUTS
from tuner.tracking.runs import Tracker


@dataclass(frozen=True)
class TrainingPlan:
    """What an engine adds to a trial's training.

    ``callbacks`` join tuner's (Optuna's pruning callback); an exception of
    ``pruned`` ends the trial PRUNED; ``on_fold`` hears a cross-validated
    trial's running mean after each fold, and may prune; an engine that builds
    its own model (KerasTuner) passes it, its ``epochs`` and ``initial_epoch``.
    """

    callbacks: Sequence[keras.callbacks.Callback] = ()
    pruned: tuple[type[BaseException], ...] = ()
    on_fold: Callable[[int, float], None] | None = None
    model: keras.Model | None = None
    epochs: int | None = None
    initial_epoch: int = 0


@dataclass
class TrialClock:
    """Where a trial's time goes: from its start, the build of its model, its epochs."""

    started: float = field(default_factory=time.perf_counter)
    build_started: float = 0.0
    build_seconds: float = 0.0
    epochs: EpochTimer = field(default_factory=EpochTimer)

    def start_build(self) -> None:
        self.build_started = time.perf_counter()

    def end_build(self) -> None:
        self.build_seconds = time.perf_counter() - self.build_started

    def spent(self) -> dict[str, float]:
        """The phase times so far, as a trial run's metrics."""
        return {
            "time_build_s": self.build_seconds,
            "time_fit_s": time.perf_counter() - self.started - self.build_seconds,
            **self.epochs.phases(),
        }


class TrialRunner:
    """Trains trials of one study and records each as a nested MLflow run."""

    def __init__(self, prepared: Prepared, tracker: Tracker, deadline: float | None = None) -> None:
        """``deadline`` (``time.time()`` seconds): when the search ends; each trial
        trains for the epochs it can finish before then."""
        self.prepared = prepared
        self.deadline = deadline
        self.data = prepared.data
        self.folds = prepared.folds
        self.task = prepared.task
        self.settings = prepared.settings
        self.study = prepared.settings.study
        self.tracker = tracker
        self.class_names = prepared.class_names
        # Figures are drawn and logged by a second process while the next trial
        # trains; ``finish`` waits for them.
        self.reports = ReportQueue(tracker.tracking_uri)

    def finish(self) -> None:
        """At the end of a search: end any trial run a stop left open, and wait until every
        trial's figures are logged."""
        self.tracker.end_open_trials()
        self.reports.finish()

    def start(self, number: int, params: Mapping[str, Any], tags: Mapping[str, str]) -> str:
        """Open the trial's run and log its parameters; returns the MLflow run id."""
        return self.tracker.start_trial(
            number,
            {
                **params,
                **self.settings.as_params(),
                **Recipe(params, self.prepared).compile_options(),
                "validation_batch_size": validation_batch_size(params["batch_size"]),
                "input_pipeline": choose_pipeline(self.study.input_pipeline, self.data.x_train),
            },
            tags,
        )

    def train(
        self,
        run_id: str,
        number: int,
        params: Mapping[str, Any],
        plan: TrainingPlan = TrainingPlan(),
    ) -> FitResult:
        """Train and close the run as COMPLETE, PRUNED (on ``plan.pruned``), FAIL or KILLED.

        Any error of build or fit becomes ``TrialFailed`` so the study goes on;
        a ``TunerError`` (a setting that is wrong for every trial) stops it.
        With folds, the trial's value is the mean over folds, and the model
        logged is then trained on the study's own training split.
        """
        clock = TrialClock()
        recipe = Recipe(params, self.prepared)
        with self._ending_run(run_id, plan.pruned, clock):
            cv_metrics = (
                self._cross_validate(run_id, number, recipe, plan.on_fold) if self.folds else {}
            )
            clock.start_build()
            model = recipe.fresh(self._seed(number)) if plan.model is None else plan.model
            clock.end_build()
            result = recipe.fit(
                model,
                self.data,
                self._seed(number),
                [clock.epochs, self.tracker.epoch_logger(run_id), *plan.callbacks],
                epochs=plan.epochs,
                initial_epoch=plan.initial_epoch,
                deadline=self.deadline,
            )
        timings = {"time_build_s": clock.build_seconds, **clock.epochs.phases()}
        if cv_metrics:
            timings["time_cv_s"] = clock.build_started - clock.started
            result = dataclasses.replace(
                result,
                value=cv_metrics[f"cv_mean_{self.settings.objective}"],
                metrics={**result.metrics, **cv_metrics},
            )
        self._complete(run_id, model, result, timings)
        return result

    @contextlib.contextmanager
    def _ending_run(
        self, run_id: str, pruned: tuple[type[BaseException], ...], clock: TrialClock
    ) -> Iterator[None]:
        """The block trains; an exception from it ends the run PRUNED (on ``pruned``),
        KILLED (a stop, also one that a library turned into another error), FAIL, and is
        raised again: ``TrialFailed`` for an error of this trial alone."""
        with InterruptWatch() as interrupt:
            try:
                yield
                if interrupt.requested:  # a stop whose exception was swallowed on the way
                    raise KeyboardInterrupt
            except pruned:
                # Training time of pruned trials counts too in where a study's time went.
                self.tracker.end_trial(run_id, "PRUNED", metrics=clock.spent())
                raise
            except KeyboardInterrupt:
                self.tracker.end_trial(run_id, "KILLED", {keys.FAIL_REASON: "interrupted"})
                raise
            except TunerError as exc:
                self._fail(run_id, exc)
                raise
            except Exception as exc:
                if interrupt.requested:  # Ctrl-C that TensorFlow turned into another error
                    self.tracker.end_trial(run_id, "KILLED", {keys.FAIL_REASON: "interrupted"})
                    raise KeyboardInterrupt from exc
                self._fail(run_id, exc)
                raise TrialFailed(f"{type(exc).__name__}: {exc}") from exc

    def build(self, params: Mapping[str, Any]) -> keras.Model:
        """The compiled model of ``params`` for the study's data (KerasTuner's hypermodel)."""
        return Recipe(params, self.prepared).build()

    def _seed(self, number: int) -> int:
        return self.study.seed + number

    def _cross_validate(
        self, run_id: str, number: int, recipe: Recipe, on_fold: Callable[[int, float], None] | None
    ) -> dict[str, float]:
        """Train a fresh model per fold; each fold's curves are logged as ``fold<i>_*``."""
        objective = self.settings.objective
        values: list[float] = []
        for i, fold in enumerate(self.folds):
            model = recipe.fresh(self._seed(number), fold.data, fold.scaling)
            result = recipe.fit(
                model,
                fold.data,
                self._seed(number),
                [self.tracker.epoch_logger(run_id, prefix=f"fold{i}_")],
            )
            values.append(result.value)
            self.tracker.log_metrics(run_id, {f"cv_{objective}": result.value}, step=i)
            if on_fold:
                on_fold(i, float(np.mean(values)))
        return {
            f"cv_mean_{objective}": float(np.mean(values)),
            f"cv_std_{objective}": float(np.std(values)),
        }

    def _complete(
        self, run_id: str, model: keras.Model, result: FitResult, timings: dict[str, float]
    ) -> None:
        """Summary, model and figures (for the best trials), final metrics, phase times.

        Figures and the model cost more than the rest of a trial's logging; with
        ``artifacts_for_top = k`` only a trial among the best k so far gets them.
        The figures are drawn by the figures process while the next trial
        trains, so they are submitted last, after the model is logged.
        """
        started = time.perf_counter()
        lines: list[str] = []
        model.summary(print_fn=lambda line, *_, **__: lines.append(line))
        self.tracker.log_text(run_id, "\n".join(lines), "model_summary.txt")
        top = self.study.artifacts_for_top
        inputs = None
        if top is None or self.tracker.ranks_among_best(result.value, self.settings.direction, top):
            inputs = collect(
                model,
                self.data,
                self.task,
                result.history,
                result.best_epoch,
                self.class_names,
                result.test_outputs,
            )
        reported = time.perf_counter()
        if inputs is not None:
            self._log_model(run_id, model, inputs)
        timings.update(
            time_fit_s=result.fit_seconds,
            time_evaluate_s=result.evaluate_seconds,
            time_report_s=reported - started,
            time_model_s=time.perf_counter() - reported,
        )
        skipped = {keys.ARTIFACTS: f"none: not among the best {top} when it finished"}
        counts = {
            "trial_value": result.value,
            "n_parameters": model.count_params(),
            "best_epoch": result.best_epoch,
            "epochs_trained": result.epochs_trained,
        }
        self.tracker.end_trial(
            run_id,
            "COMPLETE",
            {} if inputs else skipped,
            metrics={**result.metrics, **timings, **counts},
        )
        if inputs is not None:
            self.reports.submit(run_id, inputs)

    def _log_model(self, run_id: str, model: keras.Model, inputs: ReportInputs) -> None:
        """The model, with a sample of the report's rows, and its validation outputs."""
        self.tracker.log_model(
            run_id,
            model,
            inputs.x_sample,
            inputs.y_pred[: len(inputs.x_sample)],
            metadata={"tuner_task": self.task.kind, "tuner_class_names": self.class_names},
            columns=self.data.columns,
        )
        # for ensemble selection: probabilities in float16 (100 KB for Fashion-MNIST);
        # the report's outputs where its split is validation (no test split)
        val_outputs = (
            inputs.y_pred if inputs.split == "validation" else predict(model, self.data.x_val)
        )
        dtype = "float32" if self.task.kind == "regression" else "float16"
        self.tracker.log_array(run_id, val_outputs.astype(dtype), VALIDATION_OUTPUTS)

    def _fail(self, run_id: str, exc: BaseException) -> None:
        reason = first_line(exc)
        self.tracker.log_text(run_id, "".join(traceback.format_exception(exc)), "error.txt")
        self.tracker.end_trial(run_id, "FAIL", {keys.FAIL_REASON: reason[:500]})
