"""Every benchmark runs end to end in smoke mode (tiny data and budgets).

Marked ``bench``: left out of the default run, run with ``python -m pytest -q -m bench``
(CI runs both).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.bench]

BENCH = Path(__file__).parents[2] / "bench"


@pytest.mark.parametrize(
    ("command", "result"),
    [
        ("throughput.py", "throughput-smoke.json"),
        ("overhead.py", "overhead-smoke.json"),
        ("overhead.py --cli", "overhead-cli-smoke.json"),
        ("run_phases.py", "run_phases-smoke.json"),
        ("time_to_accuracy.py", "time_to_accuracy-synthetic-smoke.json"),
        ("finalize.py", "finalize-smoke.json"),
        ("defaults.py", "defaults-smoke.json"),
        ("tabular.py", "tabular-smoke.json"),
        ("tabular_portfolio.py", "tabular-portfolio-smoke.json"),
    ],
)
def test_benchmark_smoke_run_prints_a_table_and_writes_json(command, result, workdir):
    env = {**os.environ, "BENCH_RESULTS": str(workdir)}
    script, *options = command.split()
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--smoke", *options],
        cwd=BENCH,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "|---" in done.stdout
    payload = json.loads((workdir / result).read_text())
    assert payload["cpus"] >= 1 and payload["date"]
    # the bookkeeping runs read their trials back from MLflow: none means nothing was recorded
    if script in ("overhead.py", "run_phases.py"):
        counted = [row["trials"] for row in payload["rows"]]
        assert counted and min(counted) >= 1, payload["rows"]
