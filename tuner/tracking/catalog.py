"""Read studies and trials back from MLflow, whichever engine wrote them.

MLflow is the record both engines share, so ``tuner ls``, ``show`` and
``promote`` read it (through any tracking URI) rather than an engine's store.
It only reads: ``tracking.housekeeping.current_study`` first ends the runs
whose process on this machine has ended, so none is shown RUNNING.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields

from mlflow.entities import Experiment, Run
from mlflow.tracking import MlflowClient

from tuner.core.errors import TunerError
from tuner.core.space import Space
from tuner.tracking import keys

SPACE_PARAMS = tuple(f.name for f in fields(Space) if f.name != "units")


class StudyNotFound(TunerError):
    """No experiment of that name holds tuner runs."""


@dataclass(frozen=True)
class TrialRecord:
    """One trial run as MLflow holds it."""

    number: int
    state: str
    value: float | None
    params: dict[str, str]
    epochs: int | None
    run_id: str
    baseline: bool
    engine: str
    algorithm: str
    test: dict[str, float] = field(default_factory=dict)  # its ``test_*`` metrics
    replica_of: str | None = None  # the trial whose configuration it trains again

    @classmethod
    def from_run(cls, run: Run) -> TrialRecord:
        tags, metrics = run.data.tags, run.data.metrics
        epochs = metrics.get("epochs_trained")
        return cls(
            number=int(tags.get(keys.TRIAL, -1)),
            state=tags.get(keys.STATE, "?"),
            value=metrics.get("trial_value"),
            params=dict(run.data.params),
            epochs=int(epochs) if epochs is not None else None,
            run_id=run.info.run_id,
            baseline=tags.get(keys.BASELINE) == "true",
            engine=tags.get(keys.ENGINE, "?"),
            algorithm=tags.get(keys.ALGORITHM, ""),
            test={k: v for k, v in metrics.items() if k.startswith("test_")},
            replica_of=tags.get(keys.REPLICA_OF),
        )

    @property
    def label(self) -> str:
        """Optuna's trial number; KerasTuner's as ``hyperband-N`` (engines share a study)."""
        return (
            f"{self.algorithm}-{self.number}" if self.engine == "keras-tuner" else str(self.number)
        )

    def key_params(self) -> dict[str, str]:
        """The searched architecture in a short form: widths joined, e.g. ``300-100``."""
        n_layers = int(self.params.get("n_layers", 0))
        widths = "-".join(self.params.get(f"units_{i}", "?") for i in range(n_layers))
        short = {k: self.params[k] for k in SPACE_PARAMS if k in self.params}
        return {"units": widths or "-", **short}


@dataclass(frozen=True)
class FinalizeRecord:
    """One ``tuner finalize`` run: its members and the finalized model's test scores."""

    run_id: str
    status: str
    started: int
    members: str
    refit: bool
    test: dict[str, float]

    @classmethod
    def from_run(cls, run: Run) -> FinalizeRecord:
        return cls(
            run_id=run.info.run_id,
            status=run.info.status,
            started=run.info.start_time,
            members=run.data.params.get("members", "?"),
            refit=run.data.params.get("refit") == "True",
            test={k: v for k, v in run.data.metrics.items() if k.startswith("test_")},
        )

    def describe(self) -> str:
        """``trials 3, 5 (refit): test_accuracy 0.9012``, as ``tuner show`` prints it."""
        scores = ", ".join(f"{k} {v:.4f}" for k, v in sorted(self.test.items())) or "no test split"
        return f"trials {self.members}{' (refit)' if self.refit else ''}: {scores}"


@dataclass
class StudyRecord:
    """A study as ``tuner ls`` lists it."""

    name: str
    experiment_id: str
    trials: list[TrialRecord] = field(default_factory=list)
    direction: str = "maximize"
    objective: str = "?"
    last_run: int | None = None
    finalized: list[FinalizeRecord] = field(default_factory=list)  # FINISHED, newest first
    trivial: float | None = None  # the trivial baseline's objective, as the last search saw

    @property
    def states(self) -> Counter[str]:
        return Counter(t.state for t in self.trials)

    def ranked(self) -> list[TrialRecord]:
        """COMPLETE trials, best first."""
        done = [t for t in self.trials if t.state == "COMPLETE" and t.value is not None]
        return sorted(done, key=lambda t: t.value or 0.0, reverse=self.direction == "maximize")

    @property
    def best(self) -> TrialRecord | None:
        ranked = self.ranked()
        return ranked[0] if ranked else None


def _search_all(client: MlflowClient, experiment_id: str, filter_string: str) -> list[Run]:
    runs: list[Run] = []
    token = None
    while True:
        page = client.search_runs(
            [experiment_id], filter_string, max_results=1000, page_token=token
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def study_experiments(client: MlflowClient) -> list[Experiment]:
    """The experiments tuner created (one per study), by name."""
    return sorted(
        (e for e in client.search_experiments() if keys.STUDY in e.tags), key=lambda e: e.name
    )


def study_experiment(client: MlflowClient, name: str) -> str:
    """The experiment id of study ``name``; ``StudyNotFound`` names the studies there are."""
    experiment = client.get_experiment_by_name(name)
    if experiment is None or keys.STUDY not in experiment.tags:
        known = ", ".join(e.name for e in study_experiments(client)) or "none yet"
        raise StudyNotFound(f"no study named {name!r} in this tracking store (studies: {known})")
    return experiment.experiment_id


def load_study(client: MlflowClient, name: str) -> StudyRecord:
    """Every trial run of study ``name``."""
    experiment_id = study_experiment(client, name)
    record = StudyRecord(name=name, experiment_id=experiment_id)
    runs = _search_all(client, experiment_id, keys.where({keys.ROLE: "trial"}))
    record.trials = sorted(
        (TrialRecord.from_run(r) for r in runs), key=lambda t: (t.engine, t.algorithm, t.number)
    )
    if runs:
        latest = max(runs, key=lambda r: r.info.start_time)
        record.direction = latest.data.params.get("direction", record.direction)
        record.objective = latest.data.params.get("objective", record.objective)
        record.last_run = latest.info.start_time
    finalized = client.search_runs(
        [experiment_id],
        keys.where({keys.ROLE: "finalize"}) + " and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
    )
    record.finalized = [FinalizeRecord.from_run(r) for r in finalized]
    parent = last_study_run(client, name)
    record.trivial = parent.data.metrics.get("trivial_value") if parent else None
    return record


def logged_models(client: MlflowClient, experiment_id: str) -> dict[str, str]:
    """The URI of each model logged in the experiment, by the run it was logged from."""
    found: dict[str, str] = {}
    token = None
    while True:
        page = client.search_logged_models([experiment_id], page_token=token)
        found.update({m.source_run_id: m.model_uri for m in page if m.source_run_id})
        token = page.token
        if not token:
            return found


def last_study_run(client: MlflowClient, name: str) -> Run | None:
    """The parent run of study ``name``'s latest search; None if it has none."""
    experiment = client.get_experiment_by_name(name)
    runs = (
        client.search_runs(
            [experiment.experiment_id],
            keys.where({keys.ROLE: "study"}),
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        if experiment
        else []
    )
    return runs[0] if runs else None


def learning_rate_findings(client: MlflowClient, name: str) -> dict[str, tuple[float, float]]:
    """The range that the first lr-find run the search ran itself (``learning_rate='auto'``)
    suggested for each optimizer of study ``name``."""
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        return {}
    runs = client.search_runs(
        [experiment.experiment_id],
        keys.where({keys.ROLE: "lr-find", keys.AUTO: "true"}),
        order_by=["attributes.start_time ASC"],
    )
    found: dict[str, tuple[float, float]] = {}
    for run in runs:
        metrics = run.data.metrics
        if {"suggested_low", "suggested_high"} <= metrics.keys():
            found.setdefault(
                run.data.params["optimizer"], (metrics["suggested_low"], metrics["suggested_high"])
            )
    return found


def list_studies(client: MlflowClient) -> list[StudyRecord]:
    """Every experiment that tuner created, with its trials."""
    return [load_study(client, e.name) for e in study_experiments(client)]


def find_trial(study: StudyRecord, label: str) -> TrialRecord:
    for trial in study.trials:
        if trial.label == label:
            return trial
    raise TunerError(
        f"study {study.name!r} has no trial {label} "
        f"(its trials: {', '.join(t.label for t in study.trials) or 'none'})"
    )
