"""Which process owns a run: host, pid and the process's start time.

The start time tells a live owner from a new process that reuses its pid. On
this host a dead owner is known at once; on another host nothing is known
(``state`` says "unknown"), and heartbeats decide there.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Literal

PROC = Path("/proc")


def this_process() -> str:
    """``host:pid:start``, the owner tag of a run this process opens."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_started(pid)}"


def state(owner: str) -> Literal["alive", "gone", "unknown"]:
    """Whether ``owner`` (from ``this_process``) names a process that runs now, one of
    this host that has ended, or one that cannot be checked (another host, no /proc)."""
    try:
        host, pid, started = owner.rsplit(":", 2)
        pid_number = int(pid)
    except ValueError:
        return "unknown"
    if host != socket.gethostname() or not (PROC / "self" / "stat").exists():
        return "unknown"
    return "alive" if _started(pid_number) == started else "gone"


def pid_of(owner: str) -> int | None:
    """The pid ``owner`` names, if that process ran on this host."""
    try:
        host, pid, _ = owner.rsplit(":", 2)
        return int(pid) if host == socket.gethostname() else None
    except ValueError:
        return None


def _started(pid: int) -> str:
    """The process's start time in clock ticks since boot (``/proc/PID/stat``, field 22)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return "gone"
    return stat.rsplit(")", 1)[1].split()[19]
