"""The stores: created once however many processes open a new one together."""

from __future__ import annotations

import subprocess
import sys

import pytest
from mlflow.tracking import MlflowClient

CREATE_TOGETHER = """
import sys, time
from pathlib import Path
from tuner.runtime import stores

folder, me, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
(folder / f"ready-{me}").touch()  # a barrier: go once all n have imported their libraries
deadline = time.monotonic() + 120
while len(list(folder.glob("ready-*"))) < n and time.monotonic() < deadline:
    time.sleep(0.01)
time.sleep(0.2 * int(me))  # and then one after another: each open meets a creation
tracking, storage = f"sqlite:///{folder}/mlflow.db", f"sqlite:///{folder}/optuna.db"
stores.start_tracking_store(tracking)
stores.await_tracking_store(tracking)
from mlflow.tracking import MlflowClient
MlflowClient(tracking).search_experiments()
import optuna
optuna.create_study(study_name=f"s{me}", storage=stores.open_storage(storage))
"""


@pytest.mark.slow
def test_processes_creating_one_new_store_together_all_succeed(tmp_path):
    n = 4
    processes = [subprocess.Popen([sys.executable, "-c", CREATE_TOGETHER, str(tmp_path), str(i),
                                   str(n)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for i in range(n)]
    errors = [p.communicate(timeout=300)[1] for p in processes]
    assert [p.returncode for p in processes] == [0] * n, "\n".join(errors)[-3000:]
    assert [e.name for e in MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
            .search_experiments()] == ["Default"]
    import optuna

    names = optuna.get_all_study_names(f"sqlite:///{tmp_path}/optuna.db")
    assert sorted(names) == [f"s{i}" for i in range(n)]
