"""Start the MLflow UI on a study store, loopback-only unless told otherwise."""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Callable

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def ui_command(tracking_uri: str, host: str, port: int) -> list[str]:
    """MLflow's UI from this interpreter (``python -m mlflow``): no PATH lookup."""
    return [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", tracking_uri,
            "--host", host, "--port", str(port)]


def serve_ui(tracking_uri: str | None, host: str, port: int, say: Callable[[str], None]) -> None:
    """Replace this process with the MLflow UI on the store, so signals reach it directly."""
    from tuner.stores import existing_tracking_uri

    uri = existing_tracking_uri(tracking_uri)
    if uri.startswith(("http://", "https://")):
        say(f"that store is a tracking server: open {uri} in a browser")
        return
    if not is_loopback(host):
        say(f"warning: the MLflow UI has no authentication; binding {host} lets anyone who "
            "reaches this machine read and change your runs")
    command = ui_command(uri, host, port)
    say(f"MLflow UI: http://{host}:{port}/#/experiments (runs of a study: "
        "/#/experiments/<id>/runs); Ctrl-C to stop")
    sys.stdout.flush()
    os.execv(command[0], command)
