"""What recording a study's data as MLflow dataset inputs costs.

    python bench/lineage.py           # Fashion-MNIST's splits, 30 trial runs
    python bench/lineage.py --smoke   # the synthetic study's splits, 5 runs

Once per `tuner run`: hashing the splits and building the datasets
(`lineage.dataset_inputs`). Per trial: the one `MlflowClient.log_inputs` call
of `Tracker.start_trial`, timed beside a single `log_param` into the same
fresh SQLite store, in one run.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from common import load, save, table
from mlflow.tracking import MlflowClient

from tuner.lineage import dataset_inputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    data = load(args.smoke)
    n_runs = 5 if args.smoke else 30
    started = time.perf_counter()
    datasets = dataset_inputs(data, "bench")
    build_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        client = MlflowClient(f"sqlite:///{folder}/mlflow.db")
        experiment = client.create_experiment("lineage")
        runs = [client.create_run(experiment).info.run_id for _ in range(n_runs)]
        timed = {}
        for name, call in (("log_inputs (3 splits)", lambda r: client.log_inputs(r, datasets)),
                           ("log_param (one)", lambda r: client.log_param(r, "p", 1))):
            started = time.perf_counter()
            for run_id in runs:
                call(run_id)
            timed[name] = (time.perf_counter() - started) / n_runs * 1000
    rows = [["hash and build the datasets (once)", f"{build_s * 1000:.0f} ms"]]
    rows += [[f"{name} per trial", f"{ms:.1f} ms"] for name, ms in timed.items()]
    print(table(["step", "time"], rows))
    path = save("lineage-smoke" if args.smoke else "lineage",
                {"training_rows": int(len(data.x_train)), "build_s": build_s, "per_trial_ms": timed})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
