"""Runs whose process died: ended KILLED, so the store says what happened.

A run records its owner (``tuner.runtime.owner``). Before a study is read
(``current_study``), its RUNNING runs whose process on this host has ended are
closed; a trial's Optuna twin is failed by the next ``tuner run``.
"""

from __future__ import annotations

from mlflow.entities import Run
from mlflow.tracking import MlflowClient

from tuner.runtime import owner
from tuner.tracking import keys
from tuner.tracking.catalog import (
    StudyRecord,
    list_studies,
    load_study,
    study_experiment,
    study_experiments,
)
from tuner.tracking.patient import PatientClient


def current_study(client: MlflowClient, name: str) -> StudyRecord:
    """``catalog.load_study`` after ending the study's runs whose process has ended."""
    close_runs_of_dead_owners(client, study_experiment(client, name))
    return load_study(client, name)


def current_studies(client: MlflowClient) -> list[StudyRecord]:
    """``catalog.list_studies`` after ending every study's runs whose process has ended."""
    for experiment in study_experiments(client):
        close_runs_of_dead_owners(client, experiment.experiment_id)
    return list_studies(client)


def close_runs_of_dead_owners(client: MlflowClient, experiment_id: str) -> None:
    """End KILLED every RUNNING run of the experiment whose process, on this host, has
    ended: a trial's with ``tuner.state = FAIL``, a parent's, a finalize run's.

    Its Optuna trial is failed by the next ``tuner run`` (``OptunaEngine``).
    """
    for run in client.search_runs([experiment_id], "attributes.status = 'RUNNING'"):
        if owner.state(run.data.tags.get(keys.OWNER, "")) == "gone":
            end_killed(client, run, "its process ended")


def end_killed(client: MlflowClient, run: Run, reason: str) -> None:
    """End a run KILLED; a trial's also tagged ``tuner.state = FAIL`` with ``reason``."""
    if run.data.tags.get(keys.ROLE) == "trial":
        client.set_tag(run.info.run_id, keys.STATE, "FAIL")
        client.set_tag(run.info.run_id, keys.FAIL_REASON, reason)
    client.set_terminated(run.info.run_id, status="KILLED")


def close_orphaned_run(tracking_uri: str, run_id: str, reason: str) -> None:
    """End the run of a trial whose process died, and its parent if still RUNNING and not
    owned by a process that runs on this host (a coordinator of workers)."""
    client = PatientClient(tracking_uri)
    run = client.get_run(run_id)
    if run.info.status == "RUNNING":
        end_killed(client, run, reason)
    parent_id = run.data.tags.get("mlflow.parentRunId")
    if parent_id:
        close_orphaned_parent(tracking_uri, parent_id)


def close_orphaned_parent(tracking_uri: str, parent_run_id: str) -> None:
    """End a parent run KILLED if it is RUNNING and no process on this host owns it (its
    coordinator died)."""
    client = PatientClient(tracking_uri)
    parent = client.get_run(parent_run_id)
    if (
        parent.info.status == "RUNNING"
        and owner.state(parent.data.tags.get(keys.OWNER, "")) != "alive"
    ):
        client.set_terminated(parent_run_id, status="KILLED")
