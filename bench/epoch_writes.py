"""What a trial's epoch costs in store writes: MLflow curves and Optuna's pruning reports.

    python bench/epoch_writes.py           # 150 epochs, 5 rounds
    python bench/epoch_writes.py --smoke   # 15 epochs, 1 round: checks it runs

Each epoch of a trial writes its logs (loss, accuracy and their validation
twins) to MLflow through tuner's ``EpochLogger`` and reports the objective to
Optuna, which then asks its pruner. Here the epochs take no time at all, as
in a tiny study, on fresh SQLite stores in WAL mode (tuner's defaults), so
what is timed is the writes alone: the logger sending every epoch
(``flush_seconds=0``, what tuner did before session 7) against its default
(values held until a second has passed, then sent in one ``log_batch``), and
Optuna's ``report`` + ``should_prune`` with the median pruner beside them.
Milliseconds an epoch, median of the rounds.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import optuna
from common import save, table

from tuner.tracking import Tracker

LOGS = {"loss": 0.5, "accuracy": 0.8, "val_loss": 0.6, "val_accuracy": 0.75}


def mlflow_ms(tracker: Tracker, epochs: int, flush_seconds: float) -> float:
    run_id = tracker.start_trial(0, {"batch_size": 16}, tags={})
    logger = tracker.epoch_logger(run_id)
    logger.flush_seconds = flush_seconds
    started = time.perf_counter()
    logger.on_train_begin()
    for epoch in range(epochs):
        logger.on_epoch_end(epoch, LOGS)
    tracker.end_trial(run_id, "COMPLETE")
    return (time.perf_counter() - started) / epochs * 1000


def optuna_ms(study: optuna.Study, epochs: int) -> float:
    trial = study.ask()
    started = time.perf_counter()
    for epoch in range(epochs):
        trial.report(LOGS["val_loss"], epoch)
        trial.should_prune()
    elapsed = time.perf_counter() - started
    study.tell(trial, LOGS["val_loss"])
    return elapsed / epochs * 1000


def run(epochs: int, rounds: int) -> list[dict]:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    times: dict[str, list[float]] = {"every": [], "held": [], "optuna": []}
    with tempfile.TemporaryDirectory() as folder:
        tracker = Tracker(f"sqlite:///{folder}/mlflow.db", "epochs", tags={})
        study = optuna.create_study(storage=f"sqlite:///{folder}/optuna.db",
                                    pruner=optuna.pruners.MedianPruner())
        for _ in range(5):  # finished trials for the pruner to compare with
            optuna_ms(study, 15)
        for _ in range(rounds):
            times["every"].append(mlflow_ms(tracker, epochs, flush_seconds=0.0))
            times["held"].append(mlflow_ms(tracker, epochs, flush_seconds=1.0))
            times["optuna"].append(optuna_ms(study, epochs))
    medians = {k: statistics.median(v) for k, v in times.items()}
    return [{"epochs": epochs, "rounds": rounds,
             "mlflow_every_epoch_ms": medians["every"], "mlflow_held_ms": medians["held"],
             "every_over_held": medians["every"] / medians["held"],
             "optuna_report_prune_ms": medians["optuna"]}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    epochs, rounds = (15, 1) if args.smoke else (args.epochs, args.rounds)
    rows = run(epochs, rounds)
    print(table(["epochs", "rounds", "MLflow, each epoch sent ms", "MLflow, held ms",
                 "each / held", "Optuna report + should_prune ms"],
                [[r["epochs"], r["rounds"], r["mlflow_every_epoch_ms"], r["mlflow_held_ms"],
                  f"{r['every_over_held']:.1f}x", r["optuna_report_prune_ms"]] for r in rows]))
    print(f"wrote {save('epoch_writes-smoke' if args.smoke else 'epoch_writes', {'rows': rows})}")


if __name__ == "__main__":
    main()
