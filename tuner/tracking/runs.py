"""The runs of a search: one parent run per ``tuner run``, one nested run per trial.

One experiment per study, one parent run per ``tuner run``, one nested run per
trial. Runs are addressed by explicit ids through ``MlflowClient`` (not the
fluent active-run stack), so a trial's logging does not depend on global state.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import keras
import mlflow
import numpy as np
from matplotlib.figure import Figure
from mlflow.entities import DatasetInput, Metric, Param, RunTag

from tuner.core.errors import StoreError
from tuner.runtime import interrupts, owner
from tuner.runtime.store_creation import write_ahead_log
from tuner.tracking import keys
from tuner.tracking.lineage import log_dataset_inputs
from tuner.tracking.models import log_array, log_keras_model
from tuner.tracking.patient import PatientClient

if TYPE_CHECKING:
    from tuner.data.frames import Columns

RUN_STATUS = {"COMPLETE": "FINISHED", "PRUNED": "FINISHED", "FAIL": "FAILED", "KILLED": "KILLED"}


def log_lr_finding(
    tracking_uri: str,
    study_name: str,
    params: Mapping[str, Any],
    suggested: Mapping[str, float],
    fig: Figure,
    tags: Mapping[str, str] | None = None,
) -> str:
    """One run, tagged ``tuner.role = lr-find``, in the study's experiment."""
    client = PatientClient(tracking_uri)
    experiment = client.get_experiment_by_name(study_name)
    experiment_id = (
        experiment.experiment_id
        if experiment
        else client.create_experiment(study_name, tags={keys.STUDY: study_name})
    )
    run = client.create_run(
        experiment_id,
        run_name="lr-find",
        tags={keys.STUDY: study_name, keys.ROLE: "lr-find", **(tags or {})},
    )
    client.log_batch(
        run.info.run_id,
        params=[Param(k, str(v)) for k, v in params.items()],
        metrics=[Metric(k, v, int(time.time() * 1000), 0) for k, v in suggested.items()],
    )
    client.log_figure(run.info.run_id, fig, "lr_finder.png")
    client.set_terminated(run.info.run_id)
    return run.info.run_id


class Tracker:
    """The MLflow side of one ``tuner run``: the parent run and its trial runs."""

    def __init__(
        self,
        tracking_uri: str,
        study_name: str,
        tags: Mapping[str, str],
        parent_run_id: str | None = None,
        parent_tags: Mapping[str, str] | None = None,
    ) -> None:
        """Open a new parent run (with ``parent_tags`` besides ``tags``), or join
        ``parent_run_id`` (a worker of a coordinator)."""
        write_ahead_log(tracking_uri)
        mlflow.set_tracking_uri(tracking_uri)
        self.tracking_uri = tracking_uri
        self.client = PatientClient(tracking_uri)
        self.tags = {keys.STUDY: study_name, **tags, keys.OWNER: owner.this_process()}
        self.epoch_loggers: dict[str, list[EpochLogger]] = {}
        self.open_trials: set[str] = set()  # started, not yet ended
        self.datasets: list[DatasetInput] = []
        self.experiment_id = self._experiment(study_name)
        if parent_run_id is None:
            parent_run_id = self.client.create_run(
                self.experiment_id,
                run_name=f"{study_name}-{time.strftime('%Y%m%d-%H%M%S')}",
                tags={**self.tags, **(parent_tags or {}), keys.ROLE: "study"},
            ).info.run_id
        self.parent_run_id = parent_run_id

    def _experiment(self, name: str) -> str:
        try:
            experiment = self.client.get_experiment_by_name(name)
            if experiment is None:
                return self._create_experiment(name)
            if experiment.lifecycle_stage == "deleted":
                self.client.restore_experiment(experiment.experiment_id)
            return experiment.experiment_id
        except mlflow.exceptions.MlflowException as exc:
            raise StoreError(f"MLflow tracking store: {exc.message.splitlines()[0]}") from exc

    def _create_experiment(self, name: str) -> str:
        """Create it; if a worker on another machine just did, use theirs."""
        try:
            return self.client.create_experiment(name, tags={keys.STUDY: name})
        except mlflow.exceptions.MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            existing = self.client.get_experiment_by_name(name)
            if existing is None:  # deleted again by another process
                raise
            return existing.experiment_id

    def log_study_params(self, params: Mapping[str, Any]) -> None:
        self._log(self.parent_run_id, params=params)

    def use_datasets(self, datasets: list[DatasetInput], *, on_parent: bool) -> None:
        """Log ``datasets`` (``lineage.dataset_inputs``) on every trial run, and on the
        parent run where ``on_parent``."""
        self.datasets = datasets
        if on_parent:
            log_dataset_inputs(self.client, self.parent_run_id, datasets)

    def start_trial(self, number: int, params: Mapping[str, Any], tags: Mapping[str, str]) -> str:
        """Create the nested run of trial ``number`` and log its parameters."""
        algorithm = self.tags.get(keys.ALGORITHM)
        prefix = f"{algorithm}-" if self.tags.get(keys.ENGINE) == "keras-tuner" else ""
        with interrupts.deferred():  # a stop after the run is created finds it open
            run = self.client.create_run(
                self.experiment_id,
                run_name=f"{prefix}trial-{number:03d}",
                tags={
                    **self.tags,
                    **tags,
                    "mlflow.parentRunId": self.parent_run_id,
                    keys.ROLE: "trial",
                    keys.TRIAL: str(number),
                    keys.STATE: "RUNNING",
                },
            )
            self.open_trials.add(run.info.run_id)
        self._log(run.info.run_id, params=params)
        if self.datasets:
            log_dataset_inputs(self.client, run.info.run_id, self.datasets)
        return run.info.run_id

    def epoch_logger(self, run_id: str, prefix: str = "") -> EpochLogger:
        """A callback for one fit of the run; ``end_trial`` sends what it still holds."""
        logger = EpochLogger(self, run_id, prefix)
        self.epoch_loggers.setdefault(run_id, []).append(logger)
        return logger

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int = 0) -> None:
        self._log(run_id, metrics=metrics, step=step)

    def ranks_among_best(self, value: float, direction: str, k: int) -> bool:
        """Whether fewer than ``k`` COMPLETE trials of the study did better than ``value``."""
        better = ">" if direction == "maximize" else "<"
        beaten_by = self.client.search_runs(
            [self.experiment_id],
            keys.where({keys.ROLE: "trial", keys.STATE: "COMPLETE"}) + " and "
            f"metrics.trial_value {better} {np.format_float_positional(value, trim='-')}",
            max_results=k,
        )
        return len(beaten_by) < k

    def log_model(
        self,
        run_id: str,
        model: keras.Model,
        inputs: np.ndarray,
        outputs: np.ndarray,
        metadata: Mapping[str, Any],
        columns: Columns | None = None,
    ) -> str:
        """``models.log_keras_model`` into one of this run's trials."""
        return log_keras_model(run_id, model, inputs, outputs, metadata, columns)

    def log_array(self, run_id: str, array: np.ndarray, name: str) -> None:
        log_array(self.client, run_id, array, name)

    def log_text(self, run_id: str, text: str, name: str) -> None:
        self.client.log_text(run_id, text, name)

    def end_trial(
        self,
        run_id: str,
        state: str,
        tags: Mapping[str, str] | None = None,
        metrics: Mapping[str, float] | None = None,
    ) -> None:
        """Send the epochs not yet logged, then the final ``metrics`` and the trial's
        Optuna state as a tag in one write, and close the run.

        Whatever ended the fit (pruning, a failure, Ctrl-C), its last epochs are kept.
        """
        for logger in self.epoch_loggers.pop(run_id, []):
            logger.flush()
        self._log(run_id, metrics=metrics, tags={keys.STATE: state, **(tags or {})})
        self.client.set_terminated(run_id, status=RUN_STATUS[state])
        self.open_trials.discard(run_id)

    def end_open_trials(self) -> None:
        """End KILLED the trial runs a stop left open: one that came between a run's start
        and its training, before anything could record it."""
        for run_id in sorted(self.open_trials):
            self.end_trial(run_id, "KILLED", {keys.FAIL_REASON: "interrupted"})

    def log_study_plots(self, plots_html: str) -> None:
        self.client.log_text(self.parent_run_id, plots_html, "optuna_plots.html")

    def log_best_params(self, best_params: Mapping[str, Any]) -> None:
        self.client.log_dict(self.parent_run_id, dict(best_params), "best_params.json")

    def mark_best(self, run_id: str) -> None:
        """Tag the best trial run of this engine (and algorithm) ``tuner.best``, only that one."""
        same = {k: self.tags[k] for k in (keys.ENGINE, keys.ALGORITHM) if k in self.tags}
        for run in self.client.search_runs(
            [self.experiment_id], keys.where({keys.BEST: "true", **same})
        ):
            if run.info.run_id != run_id:
                self.client.delete_tag(run.info.run_id, keys.BEST)
        self.client.set_tag(run_id, keys.BEST, "true")

    def end_study(
        self,
        status: str,
        metrics: Mapping[str, float],
        tags: Mapping[str, str],
        params: Mapping[str, Any],
    ) -> None:
        self._log(self.parent_run_id, metrics=metrics, tags=tags, params=params)
        self.client.set_terminated(self.parent_run_id, status=status)

    def _log(
        self,
        run_id: str,
        *,
        metrics: Mapping[str, float] | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        step: int = 0,
    ) -> None:
        """One ``log_batch`` call for everything, the cheapest round trip MLflow offers."""
        now = int(time.time() * 1000)
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), now, step) for k, v in (metrics or {}).items()],
            params=[Param(k, str(v)) for k, v in (params or {}).items()],
            tags=[RunTag(k, str(v)) for k, v in (tags or {}).items()],
        )


class EpochLogger(keras.callbacks.Callback):
    """Logs every epoch's training and validation values with ``step=epoch``.

    An epoch's values are sent as soon as ``flush_seconds`` have passed since
    the last write, else with a later epoch's (each keeps its own timestamp):
    an epoch of seconds shows in the MLflow UI as it ends, while a tiny study's
    epochs of milliseconds do not each pay a store transaction (5.0-5.7 ms an
    epoch sent alone, 0.44-0.46 ms held).
    ``prefix`` keeps apart the curves of several fits in one run (CV folds).
    """

    flush_seconds = 1.0

    def __init__(self, tracker: Tracker, run_id: str, prefix: str = "") -> None:
        super().__init__()
        self.tracker = tracker
        self.run_id = run_id
        self.prefix = prefix
        self.pending: list[Metric] = []
        self.last_write = time.monotonic()

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        self.last_write = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        now = int(time.time() * 1000)
        self.pending += [
            Metric(f"{self.prefix}{k}", float(v), now, epoch)
            for k, v in (logs or {}).items()
            if np.isscalar(v) or np.ndim(v) == 0
        ]
        if time.monotonic() - self.last_write >= self.flush_seconds:
            self.flush()

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        self.flush()

    def flush(self) -> None:
        """Send the epochs not yet logged, in one ``log_batch``."""
        if self.pending:
            self.tracker.client.log_batch(self.run_id, metrics=self.pending)
            self.pending = []
        self.last_write = time.monotonic()
