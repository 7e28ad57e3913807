"""What each trial's traced train step leaves behind in a long study's process.

    python bench/graph_garbage.py --trials 40
    python bench/graph_garbage.py --smoke

Trains ``--trials`` small synthetic models one after the other through
``tuner.training.fit``, as one `tuner run` process does, in two new processes:
as tuner runs them (the custom gradients TensorFlow registers while tracing a
train step dropped after each fit), and with that step left out. After every
trial it runs a full garbage collection and reports, at a few trials, the
objects the collector tracks, how long that collection took, and the process's
resident memory.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def child(trials: int, release: bool) -> list[dict]:
    import keras

    import tuner.training
    from tuner.data import infer_task
    from tuner.datasets import synthetic
    from tuner.model import build_model

    if not release:
        tuner.training.custom_gradients_released = contextlib.nullcontext
    data = synthetic()
    task = infer_task(data.y_train)
    params = {"n_layers": 2, "units_0": 64, "units_1": 32, "activation": "relu",
              "dropout": 0.0, "optimizer": "adam", "learning_rate": 1e-3}
    gc.freeze()  # as the `tuner` command does after its imports
    rows = []
    for i in range(trials):
        keras.backend.clear_session(free_memory=False)
        model = build_model(params, data.x_train.shape[1:], task, steps_per_execution=32)
        tuner.training.fit(model, data, batch_size=32, objective="val_loss",
                           direction="minimize", max_epochs=2, patience=2, seed=i)
        del model
        started = time.perf_counter()
        gc.collect()
        if i in (0, trials // 4, trials // 2, trials - 1):
            rows.append({"trial": i + 1, "tracked": len(gc.get_objects()),
                         "full_collection_s": time.perf_counter() - started,
                         "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--child", choices=["release", "keep"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    trials = 4 if args.smoke else args.trials
    if args.child:
        print(json.dumps(child(trials, args.child == "release")))
        return
    from common import save, table

    rows = []
    for mode in ("keep", "release"):  # TensorFlow's registry as it is, then as tuner leaves it
        done = subprocess.run([sys.executable, __file__, "--child", mode, "--trials", str(trials)],
                              capture_output=True, text=True, check=True)
        rows += [{"custom gradients": "dropped after each fit" if mode == "release" else "kept",
                  **row} for row in json.loads(done.stdout.splitlines()[-1])]
    keys = ["custom gradients", "trial", "tracked", "full_collection_s", "max_rss_mib"]
    print(table(keys, [[row[k] for k in keys] for row in rows]))
    print(f"wrote {save('graph_garbage-smoke' if args.smoke else 'graph_garbage', {'rows': rows})}")


if __name__ == "__main__":
    main()
