"""Promote a trial's logged model to the MLflow Model Registry, under an alias."""

from __future__ import annotations

import json
from dataclasses import dataclass

import mlflow
from mlflow.entities import Run
from mlflow.tracking import MlflowClient

from tuner.core.errors import TunerError
from tuner.tracking import keys
from tuner.tracking.catalog import StudyRecord, TrialRecord, find_trial
from tuner.tracking.housekeeping import current_study


class PromotionRefused(TunerError):
    """The trial cannot be promoted: not COMPLETE, or no model was logged."""


@dataclass(frozen=True)
class Promotion:
    """A registered version and the alias pointed at it; ``source`` says what it holds."""

    name: str
    version: str
    alias: str
    source: str
    created: bool

    @property
    def uri(self) -> str:
        return f"models:/{self.name}@{self.alias}"

    def summary(self) -> str:
        """The line ``tuner promote`` prints."""
        verb = "registered" if self.created else "already registered as"
        return (
            f"{self.source} {verb} {self.name} version {self.version}; "
            f"alias {self.alias!r} -> {self.uri}"
        )


def promote(
    client: MlflowClient,
    study_name: str,
    model_name: str,
    *,
    alias: str = "champion",
    trial_number: str | None = None,
) -> Promotion:
    """Register the best COMPLETE trial's model (or trial ``trial_number``) and alias it.

    Promoting a trial already registered under ``model_name`` reuses its
    version instead of creating a duplicate.
    """
    study = current_study(client, study_name)
    trial = _pick(study, trial_number)
    run = client.get_run(trial.run_id)
    tags = {
        keys.TRIAL: trial.label,
        keys.OBJECTIVE: study.objective,
        keys.VALUE: str(trial.value),
        keys.PARAMS: json.dumps(trial.params),
    }
    description = (
        f"Trial {trial.label} of study {study.name}: {study.objective} = "
        f"{trial.value:.4f}, {_test_scores(run)}; architecture {trial.key_params()}."
    )
    return register_run(
        client,
        study,
        run,
        model_name,
        alias,
        tags,
        description,
        source=f"trial {trial.label} of {study.name} ({trial.value:.4f})",
    )


def register_run(
    client: MlflowClient,
    study: StudyRecord,
    run: Run,
    model_name: str,
    alias: str,
    tags: dict[str, str],
    description: str,
    *,
    source: str,
) -> Promotion:
    """Register the model that ``run`` logged (once per model name) and point ``alias`` at it.

    The version carries ``tags`` and the run's test metrics as tags.
    """
    run_id = run.info.run_id
    existing = [
        v
        for v in client.search_model_versions(f"name = '{model_name}'")
        if v.tags.get(keys.RUN_ID) == run_id
    ]
    if existing:
        version, created = existing[0].version, False
    else:
        version, created = _register(client, study, run, model_name, tags, description), True
    client.set_registered_model_alias(model_name, alias, version)
    return Promotion(model_name, str(version), alias, source, created)


def _test_scores(run: Run) -> str:
    return ", ".join(f"{k} = {v:.4f}" for k, v in sorted(_test_metrics(run).items()))


def _test_metrics(run: Run) -> dict[str, float]:
    return {k: v for k, v in run.data.metrics.items() if k.startswith("test_")}


def _pick(study: StudyRecord, trial_number: str | None) -> TrialRecord:
    if trial_number is None:
        if study.best is None:
            raise PromotionRefused(f"study {study.name!r} has no COMPLETE trial to promote")
        return study.best
    trial = find_trial(study, trial_number)
    if trial.state != "COMPLETE":
        raise PromotionRefused(
            f"trial {trial.label} of study {study.name!r} is {trial.state}; "
            "only COMPLETE trials have a model to promote"
        )
    return trial


def _register(
    client: MlflowClient,
    study: StudyRecord,
    run: Run,
    name: str,
    tags: dict[str, str],
    description: str,
) -> str:
    models = mlflow.search_logged_models(
        experiment_ids=[study.experiment_id],
        output_format="list",
        filter_string=f"source_run_id = '{run.info.run_id}'",
    )
    if not models:
        raise PromotionRefused(
            f"run {run.data.tags.get('mlflow.runName', run.info.run_id)} of study "
            f"{study.name!r} has no logged model: only trials among the study's best "
            "artifacts_for_top when they finished log one"
        )
    tags = {
        keys.STUDY: study.name,
        keys.RUN_ID: run.info.run_id,
        **tags,
        **{keys.score(k): str(v) for k, v in _test_metrics(run).items()},
    }
    version = mlflow.register_model(models[0].model_uri, name, tags=tags)
    client.update_model_version(name, version.version, description=description)
    return version.version


def promote_finalized(
    client: MlflowClient, record: StudyRecord, run_id: str | None, model_name: str, alias: str
) -> Promotion:
    """Register a finalize run's model (the newest FINISHED one if ``run_id`` is None)."""
    if run_id is None:
        if not record.finalized:
            raise PromotionRefused(
                f"study {record.name!r} has no finished finalize run; "
                f"run `tuner finalize {record.name}` first"
            )
        run_id = record.finalized[0].run_id
    run = client.get_run(run_id)
    members = run.data.params.get("members", "?")
    scores_text = ", ".join(
        f"{k} = {v:.4f}" for k, v in sorted(run.data.metrics.items()) if k.startswith("test_")
    )
    refit = " refit on training + validation" if run.data.params.get("refit") == "True" else ""
    return register_run(
        client,
        record,
        run,
        model_name,
        alias,
        {keys.ROLE: "finalize", keys.MEMBERS: members},
        f"Ensemble of trials {members} of study {record.name}{refit}: {scores_text}.",
        source=f"finalized ensemble of {record.name} (trials {members})",
    )
