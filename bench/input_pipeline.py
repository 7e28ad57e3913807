"""Input pipelines of a trial: Keras's own (arrays) against tf.data datasets, one run.

    python bench/input_pipeline.py            # synthetic (800 rows) and Fashion-MNIST
    python bench/input_pipeline.py --smoke    # synthetic only, 1 round: checks it runs

Both arms are `tuner.training.fit` with tuner's default compile options, the
same model and seed; only `input_pipeline` differs ("arrays": Keras batches
and shuffles the arrays itself, starting its pipeline afresh each epoch;
"dataset": `tuner.inputs`). They alternate, several rounds; medians of the
whole `fit` (first epoch's tracing included) and of one later epoch.
"""

from __future__ import annotations

import argparse
import statistics
import time

import keras
from common import REFERENCE, load, save, table

from tuner.data import Data, infer_task
from tuner.model import build_model, compile_options
from tuner.preprocessing import choose
from tuner.training import fit

SMALL = {**REFERENCE, "n_layers": 1, "units_0": 16, "optimizer": "adam"}
PIPELINES = ("arrays", "dataset")


class EpochTimes(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.seconds.append(time.perf_counter() - self.started)


def compare(name: str, data: Data, params: dict, batch_size: int, epochs: int,
            rounds: int) -> dict:
    task, scaling = infer_task(data.y_train), choose(data.x_train, "auto")
    options = compile_options(batch_size, "auto", "auto")
    fits: dict[str, list[float]] = {p: [] for p in PIPELINES}
    later_epochs: dict[str, list[float]] = {p: [] for p in PIPELINES}
    accuracy: dict[str, float] = {}
    for _ in range(rounds):
        for pipeline in PIPELINES:
            keras.backend.clear_session(free_memory=False)
            keras.utils.set_random_seed(0)
            model = build_model({**params, "batch_size": batch_size}, data.x_train.shape[1:],
                                task, scaling=scaling, **options)
            timer = EpochTimes()
            result = fit(model, data, batch_size=batch_size, objective="val_accuracy",
                         direction="maximize", max_epochs=epochs, patience=epochs,
                         callbacks=[timer], input_pipeline=pipeline, seed=0)
            fits[pipeline].append(result.fit_seconds)
            later_epochs[pipeline] += timer.seconds[1:]
            accuracy[pipeline] = result.history["val_accuracy"][-1]
    fit_s = {p: statistics.median(s) for p, s in fits.items()}
    epoch_s = {p: statistics.median(s) for p, s in later_epochs.items()}
    return {"data": name, "rows": len(data.x_train), "batch_size": batch_size,
            "epochs": epochs, "rounds": rounds, "fits": fits,
            **{f"{p}_fit_s": fit_s[p] for p in PIPELINES},
            **{f"{p}_epoch_s": epoch_s[p] for p in PIPELINES},
            **{f"{p}_val_accuracy": accuracy[p] for p in PIPELINES},
            "speedup": fit_s["arrays"] / fit_s["dataset"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rounds = 1 if args.smoke else args.rounds
    plan = [("synthetic", load(True), SMALL, b, 10) for b in (16, 64)]
    if not args.smoke:
        fashion = load(False)
        plan += [("fashion", fashion, REFERENCE, b, 3) for b in (32, 128, 512)]
    rows = [compare(*case, rounds=rounds) for case in plan]
    print(table(["data", "rows", "batch", "epochs", "arrays fit s", "dataset fit s",
                 "arrays / dataset", "arrays epoch s", "dataset epoch s",
                 "arrays val acc", "dataset val acc"],
                [[r["data"], r["rows"], r["batch_size"], r["epochs"], r["arrays_fit_s"],
                  r["dataset_fit_s"], f"{r['speedup']:.2f}x", r["arrays_epoch_s"],
                  r["dataset_epoch_s"], r["arrays_val_accuracy"], r["dataset_val_accuracy"]]
                 for r in rows]))
    print("wrote", save("input_pipeline-smoke" if args.smoke else "input_pipeline",
                        {"rows": rows}))


if __name__ == "__main__":
    main()
