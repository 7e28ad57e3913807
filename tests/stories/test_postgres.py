"""Several machines on one study: Optuna and MLflow both on a real PostgreSQL server.

Uses $TUNER_TEST_POSTGRES (default: the local server with trust auth); skipped
when no server answers, except under CI, where .ci/run starts one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import mlflow
import optuna
import pytest
from mlflow.tracking import MlflowClient
from sqlalchemy.engine import make_url

psycopg = pytest.importorskip("psycopg")


pytestmark = pytest.mark.slow

SERVER = os.environ.get("TUNER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def databases():
    """Two fresh databases, one for Optuna and one for MLflow; dropped afterwards."""
    try:
        admin = psycopg.connect(SERVER, connect_timeout=3, autocommit=True)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs PostgreSQL at {SERVER}: {exc}")
        pytest.skip(f"no PostgreSQL at {SERVER}")
    names = [f"tuner_{uuid.uuid4().hex[:8]}_{role}" for role in ("optuna", "mlflow")]
    with admin.cursor() as cursor:
        for name in names:
            cursor.execute(f'CREATE DATABASE "{name}"')
    yield [
        make_url(SERVER).set(database=name).render_as_string(hide_password=False) for name in names
    ]
    with admin.cursor() as cursor:
        for name in names:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def test_two_processes_share_a_postgres_study_and_tracking_store(databases, study_file):
    storage, tracking = databases
    # Create both schemas once, as the README says to before starting machines.
    MlflowClient(tracking).search_experiments()
    optuna.storages.RDBStorage(storage)
    command = [
        sys.executable,
        "-m",
        "tuner.cli",
        "run",
        str(study_file()),
        "--trials",
        "3",
        "--no-progress",
        "--storage",
        storage,
        "--tracking-uri",
        tracking,
    ]

    machines = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    errors = [p.communicate(timeout=300)[1] for p in machines]

    assert [p.returncode for p in machines] == [0, 0], errors
    study = optuna.load_study(study_name="tiny", storage=storage)
    assert sorted(t.number for t in study.trials) == list(range(6))
    client = MlflowClient(tracking)
    [experiment] = [e for e in client.search_experiments() if e.name == "tiny"]
    runs = client.search_runs([experiment.experiment_id], "")
    trial_runs = [r for r in runs if r.data.tags["tuner.role"] == "trial"]
    parents = [r for r in runs if r.data.tags["tuner.role"] == "study"]
    assert sorted(int(r.data.tags["tuner.trial"]) for r in trial_runs) == list(range(6))
    assert {t.user_attrs["mlflow_run_id"] for t in study.trials} == {
        r.info.run_id for r in trial_runs
    }
    assert len(parents) == 2 and {p.info.status for p in parents} == {"FINISHED"}

    # The commands after the search work on the PostgreSQL backend store too.
    cli = [sys.executable, "-m", "tuner.cli"]
    listed = subprocess.run(
        [*cli, "ls", "--tracking-uri", tracking], capture_output=True, text=True, timeout=120
    )
    assert listed.returncode == 0 and listed.stdout.splitlines()[1].split()[:3] == [
        "tiny",
        str(sum(t.state.name == "COMPLETE" for t in study.trials)),
        str(sum(t.state.name == "PRUNED" for t in study.trials)),
    ], listed.stdout + listed.stderr
    promoted = subprocess.run(
        [*cli, "promote", "tiny", "--model", "pg-mlp", "--tracking-uri", tracking],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert promoted.returncode == 0, promoted.stderr
    mlflow.set_tracking_uri(tracking)
    assert str(client.get_model_version_by_alias("pg-mlp", "champion").version) == "1"


@pytest.fixture
def tracking_server(tmp_path):
    """`mlflow server` on loopback: a SQLite backend store, artifacts proxied from a folder."""
    import socket
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{tmp_path}/server.db",
            "--artifacts-destination",
            str(tmp_path / "artifacts"),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            MlflowClient(uri).search_experiments(max_results=1)
            break
        except Exception:
            assert server.poll() is None, server.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "the MLflow server did not answer in 120 s"
            time.sleep(0.5)
    yield uri
    server.terminate()
    server.wait(timeout=30)


def test_machines_that_start_together_share_a_new_study_through_a_tracking_server(
    databases, tracking_server, study_file, tmp_path
):
    storage, _ = databases
    path = study_file()
    folders = [tmp_path / name for name in ("machine-a", "machine-b", "laptop")]
    for folder in folders:
        folder.mkdir()
    command = [
        sys.executable,
        "-m",
        "tuner.cli",
        "run",
        str(path),
        "--trials",
        "2",
        "--no-progress",
        "--storage",
        storage,
        "--tracking-uri",
        tracking_server,
    ]

    # Nothing created beforehand: both start on a new database at the same instant.
    machines = [
        subprocess.Popen(command, cwd=folder, stderr=subprocess.PIPE, text=True)
        for folder in folders[:2]
    ]
    errors = [p.communicate(timeout=300)[1] for p in machines]

    assert [p.returncode for p in machines] == [0, 0], errors
    study = optuna.load_study(study_name="tiny", storage=storage)
    assert sorted(t.number for t in study.trials) == list(range(4))
    client = MlflowClient(tracking_server)
    [experiment] = [e for e in client.search_experiments() if e.name == "tiny"]
    parents = client.search_runs([experiment.experiment_id], "tags.`tuner.role` = 'study'")
    assert len(parents) == 2 and {p.info.status for p in parents} == {"FINISHED"}

    # A third folder promotes and predicts, the model fetched through the server.
    cli = [sys.executable, "-m", "tuner.cli"]
    promoted = subprocess.run(
        [*cli, "promote", "tiny", "--model", "shared-mlp", "--tracking-uri", tracking_server],
        cwd=folders[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert promoted.returncode == 0, promoted.stderr
    rows = folders[2] / "rows.csv"
    rows.write_text("0.1,0.2\n0.9,0.8\n")
    predicted = subprocess.run(
        [
            *cli,
            "predict",
            "models:/shared-mlp@champion",
            str(rows),
            "--tracking-uri",
            tracking_server,
        ],
        cwd=folders[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert predicted.returncode == 0, predicted.stderr
    assert predicted.stdout.splitlines()[0] == "row,class,probability"
    assert len(predicted.stdout.splitlines()) == 3
    assert not (folders[2] / "mlruns").exists()  # nothing stored on the laptop


def test_the_optuna_storage_outlives_its_connections_ending_on_the_server(databases):
    """A database restart ends every connection; the pool tests each before use
    (``pool_pre_ping``), so the next read opens a new one instead of failing."""
    from tuner.runtime.stores import open_storage

    url = databases[0]
    storage = open_storage(url)
    optuna.create_study(storage=storage, study_name="restarted")
    database = make_url(url).database
    with psycopg.connect(SERVER, autocommit=True) as admin:
        ended = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchone()[0]
    assert ended >= 1  # the pool's idle connection
    assert [s.study_name for s in storage.get_all_studies()] == ["restarted"]
