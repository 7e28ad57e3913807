"""runtime/owner.py: a run's owner is host, pid and start time, alive or gone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from tuner.runtime import owner


def test_this_process_is_alive_and_names_its_pid():
    me = owner.this_process()
    assert owner.state(me) == "alive"
    assert owner.pid_of(me) == os.getpid()


def test_an_ended_process_is_gone_even_when_its_pid_comes_back_with_another_start():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = (owner.PROC / str(child.pid) / "stat").read_text().rsplit(")", 1)[1].split()[19]
        recorded = f"{socket.gethostname()}:{child.pid}:{started}"
        assert owner.state(recorded) == "alive"
    finally:
        child.kill()
        child.wait()
    assert owner.state(recorded) == "gone"
    # a live process with that pid but another start time is not the owner
    reused = f"{socket.gethostname()}:{os.getpid()}:1"
    assert owner.state(reused) == "gone"


def test_another_host_or_a_malformed_tag_cannot_be_checked():
    assert owner.state(f"elsewhere.example:{os.getpid()}:1") == "unknown"
    assert owner.pid_of(f"elsewhere.example:{os.getpid()}:1") is None
    for malformed in ("", "host", "host:pid:start", "a:b"):
        assert owner.state(malformed) == "unknown"
        assert owner.pid_of(malformed) is None
