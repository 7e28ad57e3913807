"""cli/tables.py: what `tuner show` and `tuner ls` print."""

from __future__ import annotations

from tuner.cli.tables import studies_table, trials_table
from tuner.tracking.catalog import StudyRecord, TrialRecord

PARAMS = {"n_layers": "2", "units_0": "512", "units_1": "256", "learning_rate": "0.001"}


def trial(number: int, value: float, replica_of: str | None = None) -> TrialRecord:
    return TrialRecord(
        number=number,
        state="COMPLETE",
        value=value,
        params=dict(PARAMS),
        epochs=20,
        run_id=f"run{number}",
        baseline=False,
        engine="optuna",
        algorithm="",
        replica_of=replica_of,
    )


def test_replicas_of_one_configuration_show_its_parameters_and_say_what_they_are():
    study = StudyRecord(
        "fashion",
        "1",
        [trial(3, 0.90), trial(7, 0.91, "3"), trial(8, 0.905, "3")],
        objective="val_accuracy",
    )
    shown = trials_table(study, top_k=3)
    header = next(line for line in shown.splitlines() if line.startswith("trial"))
    assert "units" in header and "learning_rate" in header and "replica of" in header
    assert "replica of: a trial that trains that trial's configuration again" in shown


def test_ls_shows_the_trivial_baseline_beside_the_best_value():
    study = StudyRecord("churn", "1", [trial(1, 0.91)], objective="val_accuracy", trivial=0.8)
    listed = studies_table([study])
    header, row = listed.splitlines()
    assert row.split()[header.split().index("trivial") + 1] == "0.8"  # "best" holds 2 words
