"""The servers around a study: MLflow's UI, optuna-dashboard, MLflow's model server.

Each starts from this interpreter (``python -m mlflow``, or optuna-dashboard's
own ``run_server`` in this process), never from a command looked up on PATH,
so all work when only ``tuner`` is reachable (pipx, a virtualenv's bin called
by its full path). Each binds loopback unless told otherwise, and warns then.
MLflow's servers run in a process group of their own that ends with tuner's
process, their workers included (``run_server_group``).
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from tuner.core.errors import TunerError, first_line
from tuner.serving.scoring import DEFAULT_MAX_BYTES, MAX_BYTES, MODEL_URI

if TYPE_CHECKING:
    import optuna

LOOPBACK_NAMES = ("localhost",)
Say = Callable[[str], None]
STOP_GRACE_S = 10.0  # for a server's group to end on SIGTERM before SIGKILL
PR_SET_PDEATHSIG = 1  # Linux's prctl option: a signal for the child when its parent dies


def _end_with_parent() -> None:
    """In the server's process, before it runs: SIGTERM when tuner's process dies (Linux)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def run_server_group(command: list[str], env: Mapping[str, str] | None = None) -> int:
    """Run ``command`` in a process group of its own until it ends or this process is
    stopped (Ctrl-C, SIGTERM, SIGHUP); the whole group, the server's workers included, is
    then stopped with it (SIGTERM, SIGKILL after ``STOP_GRACE_S``). Its exit status."""
    process = subprocess.Popen(
        command,
        env=None if env is None else dict(env),
        start_new_session=True,
        preexec_fn=_end_with_parent,
    )
    try:
        return process.wait()
    finally:
        _stop_group(process)


def _stop_group(process: subprocess.Popen) -> None:
    group = process.pid
    deadline = time.monotonic() + STOP_GRACE_S
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGTERM)
        while time.monotonic() < deadline:
            process.poll()  # reaps the leader, so the group empties
            os.killpg(group, 0)  # ProcessLookupError once no process is left in it
            time.sleep(0.1)
        os.killpg(group, signal.SIGKILL)
    process.wait()


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _warn_if_exposed(host: str, what: str, say: Say) -> None:
    if not is_loopback(host):
        say(
            f"warning: {what} has no authentication; binding {host} lets anyone who reaches "
            "this machine use it"
        )


def ui_command(tracking_uri: str, host: str, port: int) -> list[str]:
    """MLflow's UI from this interpreter (``python -m mlflow``): no PATH lookup."""
    return [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        tracking_uri,
        "--host",
        host,
        "--port",
        str(port),
    ]


def serve_ui(tracking_uri: str | None, host: str, port: int, say: Say) -> int:
    """The MLflow UI on the store until it ends or this process is stopped; its status."""
    from tuner.runtime.stores import existing_tracking_uri

    uri = existing_tracking_uri(tracking_uri)
    if uri.startswith(("http://", "https://")):
        say(f"that store is a tracking server: open {uri} in a browser")
        return 0
    _warn_if_exposed(host, "the MLflow UI", say)
    command = ui_command(uri, host, port)
    say(
        f"MLflow UI: http://{host}:{port}/#/experiments (runs of a study: "
        "/#/experiments/<id>/runs); Ctrl-C to stop"
    )
    sys.stdout.flush()
    return run_server_group(command)


def dashboard_path(storage: optuna.storages.BaseStorage, study: str | None) -> str:
    """The dashboard page of ``study`` (a name, or a study file's path) in the storage."""
    if study is None:
        return "/dashboard"
    import optuna

    if study.endswith(".py") and Path(study).is_file():
        from tuner.core.studyfile import load_study_file

        study = load_study_file(study).name
    names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    if study not in names:
        raise TunerError(f"no study {study!r} in the Optuna storage; it holds {names}")
    return f"/dashboard/studies/{storage.get_study_id_from_name(study)}"


def serve_dashboard(
    study: str | None, storage_url: str | None, host: str, port: int, say: Say
) -> None:
    """optuna-dashboard on the study's storage, in this process until Ctrl-C; live while
    ``tuner run`` writes to the same storage elsewhere."""
    import optuna_dashboard

    from tuner.runtime.stores import existing_storage_url, open_storage

    storage = open_storage(existing_storage_url(storage_url))
    path = dashboard_path(storage, study)
    _warn_if_exposed(host, "optuna-dashboard", say)
    say(f"optuna-dashboard: http://{host}:{port}{path}; Ctrl-C to stop")
    sys.stdout.flush()
    optuna_dashboard.run_server(storage, host=host, port=port)


def model_server_command(host: str, port: int, workers: int) -> list[str]:
    """uvicorn from this interpreter on MLflow's scoring app behind tuner's guard
    (``tuner.serving.scoring``), in this environment."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "tuner.serving.scoring:create_app",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


def serve_model(
    model_uri: str,
    tracking_uri: str | None,
    host: str,
    port: int,
    say: Say,
    workers: int = 1,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> int:
    """MLflow's scoring app on ``model_uri``, once the model is found
    (``models:/NAME@alias``, ``runs:/ID/model``, ``models:/m-...`` or a folder), with
    ``workers`` processes and bodies up to ``max_bytes``, until it ends or this process
    is stopped; its status."""
    import mlflow

    from tuner.runtime.stores import existing_tracking_uri

    local = Path(model_uri).is_dir()
    environment = {
        **os.environ,
        MODEL_URI: str(Path(model_uri).resolve()) if local else model_uri,
        MAX_BYTES: str(max_bytes),
        "TF_CPP_MIN_LOG_LEVEL": "3",  # TensorFlow's start-up lines stay out of the log
    }
    if not local:
        environment["MLFLOW_TRACKING_URI"] = existing_tracking_uri(tracking_uri)
        mlflow.set_tracking_uri(environment["MLFLOW_TRACKING_URI"])
    try:
        mlflow.models.get_model_info(model_uri)
    except Exception as exc:  # MLflow raises several kinds for a bad or unknown URI
        raise TunerError(f"cannot serve {model_uri}: {first_line(exc)}") from None
    _warn_if_exposed(host, "MLflow's model server", say)
    say(
        f'model server: POST http://{host}:{port}/invocations with {{"inputs": [...]}} or '
        f'{{"dataframe_split": ...}}, bodies up to {max_bytes:,} bytes, {workers} worker(s); '
        "Ctrl-C to stop"
    )
    sys.stdout.flush()
    return run_server_group(model_server_command(host, port, workers), environment)
