"""The stores: made once however many processes open them together; a new tracking store
made by a second process, or copied from the template of the last one made."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing

import pytest
from mlflow.tracking import MlflowClient

from tuner.runtime.store_creation import (
    await_tracking_store,
    discard_tracking_store,
    start_tracking_store,
    tracking_template,
)


@pytest.fixture
def no_template(tmp_path, monkeypatch):
    """A cache of its own, without the tracking store's template."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert not tracking_template().exists()


def test_a_new_tracking_store_is_made_by_a_second_process_and_kept_as_template(
    tmp_path, no_template
):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    assert start_tracking_store(uri)
    await_tracking_store(uri)
    # made before this process opened it: MLflow's schema at its head, write-ahead logging
    with closing(sqlite3.connect(tmp_path / "mlflow.db")) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone()
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert [e.name for e in MlflowClient(uri).search_experiments()] == ["Default"]
    with closing(sqlite3.connect(tracking_template())) as db:  # no experiment of its folder
        assert db.execute("SELECT count(*) FROM experiments").fetchone() == (0,)


def test_the_next_new_store_is_a_copy_of_the_template_with_a_default_of_its_own(
    tmp_path, no_template, monkeypatch
):
    first, second = tmp_path / "first", tmp_path / "second"
    for folder in (first, second):
        folder.mkdir()
        monkeypatch.chdir(folder)  # MLflow's default artifact root: ./mlruns
        uri = f"sqlite:///{folder}/mlflow.db"
        assert start_tracking_store(uri) == (folder == first)  # a process only the first time
        await_tracking_store(uri)
    client = MlflowClient(f"sqlite:///{second}/mlflow.db")
    [default] = client.search_experiments()
    assert default.name == "Default" and str(second) in default.artifact_location
    run = client.create_run(client.create_experiment("copied")).info.run_id
    client.log_metric(run, "loss", 0.5)
    assert client.get_metric_history(run, "loss")[0].value == 0.5


def test_a_template_that_is_not_a_store_is_not_copied(tmp_path, no_template):
    tracking_template().parent.mkdir(parents=True)
    tracking_template().write_text("not a database")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    assert start_tracking_store(uri)  # MLflow's migrations in a second process instead
    await_tracking_store(uri)
    assert [e.name for e in MlflowClient(uri).search_experiments()] == ["Default"]


def test_an_existing_store_or_a_server_is_left_to_mlflow_in_this_process(tmp_path):
    made = f"sqlite:///{tmp_path}/made.db"
    start_tracking_store(made)
    await_tracking_store(made)
    for uri in (made, "http://127.0.0.1:9/", "postgresql://u@h/db"):
        assert not start_tracking_store(uri)
        await_tracking_store(uri)


@pytest.mark.parametrize("template", [False, True])
def test_a_new_store_discarded_before_its_first_use_leaves_no_file(tmp_path, monkeypatch, template):
    if not template:
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "store"
    uri = f"sqlite:///{folder}/mlflow.db"
    start_tracking_store(uri)
    discard_tracking_store(uri)
    assert list(folder.iterdir()) == []


CREATE_TOGETHER = """
import sys, time
from pathlib import Path
from tuner.runtime import store_creation, stores

folder, me, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
(folder / f"ready-{me}").touch()  # a barrier: go once all n have imported their libraries
deadline = time.monotonic() + 120
while len(list(folder.glob("ready-*"))) < n and time.monotonic() < deadline:
    time.sleep(0.01)
time.sleep(0.2 * int(me))  # and then one after another: each open meets a creation
tracking, storage = f"sqlite:///{folder}/mlflow.db", f"sqlite:///{folder}/optuna.db"
store_creation.start_tracking_store(tracking)
store_creation.await_tracking_store(tracking)
from mlflow.tracking import MlflowClient
MlflowClient(tracking).search_experiments()
import optuna
optuna.create_study(study_name=f"s{me}", storage=stores.open_storage(storage))
"""


@pytest.mark.slow
@pytest.mark.parametrize("template", [False, True], ids=["migrated", "copied"])
def test_processes_creating_one_new_store_together_all_succeed(tmp_path, monkeypatch, template):
    cache, stores = tmp_path / "cache", tmp_path / "stores"
    stores.mkdir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))  # the children's cache too
    if template:
        made = f"sqlite:///{tmp_path}/made.db"
        start_tracking_store(made)
        await_tracking_store(made)
    assert tracking_template().exists() == template
    n = 4
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CREATE_TOGETHER, str(stores), str(i), str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(n)
    ]
    errors = [p.communicate(timeout=300)[1] for p in processes]
    assert [p.returncode for p in processes] == [0] * n, "\n".join(errors)[-3000:]
    assert [e.name for e in MlflowClient(f"sqlite:///{stores}/mlflow.db").search_experiments()] == [
        "Default"
    ]
    import optuna

    names = optuna.get_all_study_names(f"sqlite:///{stores}/optuna.db")
    assert sorted(names) == [f"s{i}" for i in range(n)]
