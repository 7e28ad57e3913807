"""Start the MLflow UI on a study store, loopback-only unless told otherwise."""

from __future__ import annotations

import ipaddress
import os
import shutil

from tuner.errors import TunerError

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def ui_command(tracking_uri: str, host: str, port: int) -> list[str]:
    mlflow = shutil.which("mlflow")
    if mlflow is None:
        raise TunerError("the `mlflow` command is not on PATH; reinstall with pip install -e .")
    return [mlflow, "ui", "--backend-store-uri", tracking_uri, "--host", host,
            "--port", str(port)]


def exec_ui(command: list[str]) -> None:
    """Replace this process with the MLflow UI, so signals reach it directly."""
    os.execv(command[0], command)
