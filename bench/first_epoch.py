"""A new model's first epoch: its train step traced once or twice.

    python bench/first_epoch.py             # synthetic and Fashion-MNIST, adam and sgd, 3 rounds
    python bench/first_epoch.py --smoke     # synthetic, adam, 1 round

Keras makes the optimizer's variables inside the first train step when no
distribution strategy is set, and a ``tf.function`` that creates variables on
its first call is traced twice (tensorflow/tensorflow#48851). ``tuner``'s
``build_model`` builds the optimizer up front ("built"); "deferred" is the
same model compiled again with a fresh optimizer, as Keras leaves it. Each
model is new (a trial's is), trained by ``tuner.training.fit`` with the
study's defaults for 3 epochs, the two ways alternating. Printed: how often
the train step was traced, the first epoch, the median later epoch, the
first epoch's excess over it (``EpochTimer.phases``: what a trial logs as
``time_trace_s``, so never below 0) and the last validation loss, which
should not differ. Medians over rounds.
"""

from __future__ import annotations

import argparse
import statistics

import keras
from common import REFERENCE, load, save, table

from tuner.data import Data, infer_task
from tuner.datasets import synthetic
from tuner.model import build_model, compile_options, metric
from tuner.preprocessing import choose
from tuner.training import EpochTimer, fit

EPOCHS = 3
SYNTHETIC = {"n_layers": 2, "units_0": 32, "units_1": 16, "activation": "relu",
             "dropout": 0.0, "learning_rate": 0.01}


def first_epoch(data: Data, params: dict, batch_size: int, built: bool) -> dict[str, float]:
    task = infer_task(data.y_train)
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(0)
    options = compile_options(batch_size, "auto", "auto")
    model = build_model(params, data.x_train.shape[1:], task,
                        scaling=choose(data.x_train, "auto"), **options)
    if not built:
        model.compile(optimizer=model.optimizer.from_config(model.optimizer.get_config()),
                      loss=model.loss, metrics=[metric(task)], **options)
    traces = []
    train_step = model.train_step

    def counted(batch):  # Keras calls it once per trace of its train function
        traces.append(1)
        return train_step(batch)

    model.train_step = counted
    timer = EpochTimer()
    result = fit(model, data, batch_size=batch_size, objective="val_loss",
                 direction="minimize", max_epochs=EPOCHS, patience=EPOCHS, seed=0,
                 callbacks=[timer])
    phases = timer.phases()  # what a trial logs
    return {"traces": len(traces), "first_epoch_s": timer.seconds[0],
            "later_epoch_s": phases["time_epoch_s"], "excess_s": phases["time_trace_s"],
            "val_loss": result.history["val_loss"][-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cases = [("synthetic", synthetic(), SYNTHETIC, 32)]
    if not args.smoke:
        reference = {k: v for k, v in REFERENCE.items() if k != "optimizer"}
        cases.append(("fashion", load(smoke=False), reference, 32))
    optimizers = ["adam"] if args.smoke else ["adam", "sgd"]
    rounds = 1 if args.smoke else args.rounds
    rows = []
    for name, data, params, batch_size in cases:
        for optimizer in optimizers:
            runs: dict[str, list[dict[str, float]]] = {"deferred": [], "built": []}
            for _ in range(rounds):
                for way, seen in runs.items():
                    seen.append(first_epoch(data, {**params, "optimizer": optimizer},
                                            batch_size, built=way == "built"))
            for way, seen in runs.items():
                rows.append({"data": name, "optimizer": optimizer, "way": way,
                             **{k: statistics.median(r[k] for r in seen) for k in seen[0]},
                             "first_epochs": [round(r["first_epoch_s"], 3) for r in seen]})
    keys = ["traces", "first_epoch_s", "later_epoch_s", "excess_s", "val_loss"]
    print(table(["data", "optimizer", "way", *keys, "first epoch, each round"],
                [[r["data"], r["optimizer"], r["way"], *(r[k] for k in keys),
                  " ".join(map(str, r["first_epochs"]))] for r in rows]))
    print(f"wrote {save('first_epoch-smoke' if args.smoke else 'first_epoch', {'rows': rows})}")


if __name__ == "__main__":
    main()
