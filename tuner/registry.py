"""Promote a trial's logged model to the MLflow Model Registry, under an alias."""

from __future__ import annotations

import json
from dataclasses import dataclass

import mlflow
from mlflow.tracking import MlflowClient

from tuner.catalog import StudyRecord, TrialRecord, find_trial, load_study
from tuner.errors import TunerError


class PromotionRefused(TunerError):
    """The trial cannot be promoted: not COMPLETE, or no model was logged."""


@dataclass(frozen=True)
class Promotion:
    name: str
    version: str
    alias: str
    trial: TrialRecord
    created: bool

    @property
    def uri(self) -> str:
        return f"models:/{self.name}@{self.alias}"

    def summary(self, study_name: str) -> str:
        """The line ``tuner promote`` prints."""
        verb = "registered" if self.created else "already registered as"
        return (f"trial {self.trial.label} of {study_name} ({self.trial.value:.4f}) {verb} "
                f"{self.name} version {self.version}; alias {self.alias!r} -> {self.uri}")


def promote(client: MlflowClient, study_name: str, model_name: str, *, alias: str = "champion",
            trial_number: str | None = None) -> Promotion:
    """Register the best COMPLETE trial's model (or trial ``trial_number``) and alias it.

    Promoting a trial already registered under ``model_name`` reuses its
    version instead of creating a duplicate.
    """
    study = load_study(client, study_name)
    trial = _pick(study, trial_number)
    existing = [v for v in client.search_model_versions(f"name = '{model_name}'")
                if v.tags.get("tuner.run_id") == trial.run_id]
    if existing:
        version, created = existing[0].version, False
    else:
        version, created = _register(client, study, trial, model_name), True
    client.set_registered_model_alias(model_name, alias, version)
    return Promotion(model_name, str(version), alias, trial, created)


def _pick(study: StudyRecord, trial_number: str | None) -> TrialRecord:
    if trial_number is None:
        if study.best is None:
            raise PromotionRefused(f"study {study.name!r} has no COMPLETE trial to promote")
        return study.best
    trial = find_trial(study, trial_number)
    if trial.state != "COMPLETE":
        raise PromotionRefused(f"trial {trial.label} of study {study.name!r} is {trial.state}; "
                               "only COMPLETE trials have a model to promote")
    return trial


def _register(client: MlflowClient, study: StudyRecord, trial: TrialRecord, name: str) -> str:
    models = mlflow.search_logged_models(
        experiment_ids=[study.experiment_id], output_format="list",
        filter_string=f"source_run_id = '{trial.run_id}'",
    )
    if not models:
        raise PromotionRefused(
            f"trial {trial.label} of study {study.name!r} has no logged model: only trials "
            "among the study's best artifacts_for_top when they finished log one")
    run = client.get_run(trial.run_id)
    test_metrics = {k: v for k, v in run.data.metrics.items() if k.startswith("test_")}
    tags = {"tuner.study": study.name, "tuner.trial": trial.label,
            "tuner.run_id": trial.run_id, "tuner.objective": study.objective,
            "tuner.value": str(trial.value), "tuner.params": json.dumps(trial.params),
            **{f"tuner.{k}": str(v) for k, v in test_metrics.items()}}
    version = mlflow.register_model(models[0].model_uri, name, tags=tags)
    client.update_model_version(name, version.version, description=(
        f"Trial {trial.label} of study {study.name}: {study.objective} = {trial.value:.4f}, "
        + ", ".join(f"{k} = {v:.4f}" for k, v in sorted(test_metrics.items()))
        + f"; architecture {trial.key_params()}."
    ))
    return version.version
