"""Reference trial throughput: bare Keras `fit` against a tuner trial, same model, one run.

    python bench/throughput.py            # Fashion-MNIST, batch 32/128/512, 5 epochs, 3 rounds
    python bench/throughput.py --smoke    # synthetic data, 1 epoch: checks it runs

Bare and tuner alternate, several rounds per batch size; the table gives the
median of each, so a burst of load from elsewhere on a shared machine moves
one round, not the result.

Both train the tutorials' 784-300-100-10 MLP (SGD 0.01) from the same seed.
"bare" is `model.fit` with Keras defaults on pixels divided by 255 by hand;
"tuner" is `tuner.training.fit` on raw pixels and a model from
`tuner.model.build_model` (its Rescaling layer included) with tuner's default
compile options (steps_per_execution, jit_compile on "auto"), EarlyStopping
and all.
"""

from __future__ import annotations

import argparse
import statistics
import time

import keras
from common import REFERENCE, bare_model, load, save, scaled_by_hand, table

from tuner.data import infer_task
from tuner.model import build_model, compile_options
from tuner.preprocessing import choose
from tuner.training import fit


def run(batch_sizes: list[int], epochs: int, smoke: bool, rounds: int) -> list[dict]:
    data = load(smoke)
    by_hand = scaled_by_hand(data)
    scaling = choose(data.x_train, "auto")
    task = infer_task(data.y_train)
    n_samples = len(data.x_train) * epochs
    rows = []
    for batch_size in batch_sizes:
        options = compile_options(batch_size, "auto", "auto")
        bare_s, tuner_s = [], []
        for _ in range(rounds):
            keras.backend.clear_session()
            keras.utils.set_random_seed(0)
            model = bare_model(data.x_train.shape[1:], max(task.n_outputs, 2))
            started = time.perf_counter()
            history = model.fit(by_hand.x_train, by_hand.y_train, batch_size=batch_size,
                                epochs=epochs, validation_data=(by_hand.x_val, by_hand.y_val),
                                verbose=0)
            bare_s.append(time.perf_counter() - started)

            keras.backend.clear_session()
            keras.utils.set_random_seed(0)
            params = {**REFERENCE, "batch_size": batch_size}
            model = build_model(params, data.x_train.shape[1:], task, scaling=scaling, **options)
            result = fit(model, data, batch_size=batch_size, objective="val_accuracy",
                         direction="maximize", max_epochs=epochs, patience=epochs)
            tuner_s.append(result.fit_seconds)
        bare, ours = statistics.median(bare_s), statistics.median(tuner_s)
        rows.append({
            "batch_size": batch_size, **options, "rounds": rounds,
            "bare_s": bare_s, "tuner_s": tuner_s,
            "bare_samples_per_s": n_samples / bare,
            "tuner_samples_per_s": n_samples / ours,
            "speedup": bare / ours,
            "bare_val_accuracy": history.history["val_accuracy"][-1],
            "tuner_val_accuracy": result.history["val_accuracy"][-1],
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-sizes", default="32,128,512")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    epochs = 1 if args.smoke else args.epochs
    rows = run([int(b) for b in args.batch_sizes.split(",")], epochs, args.smoke,
               1 if args.smoke else args.rounds)
    print(table(["batch", "steps/exec", "jit", "bare samples/s", "tuner samples/s",
                 "tuner / bare", "bare val acc", "tuner val acc"],
                [[r["batch_size"], r["steps_per_execution"], r["jit_compile"],
                  round(r["bare_samples_per_s"]), round(r["tuner_samples_per_s"]),
                  f"{r['speedup']:.2f}x", r["bare_val_accuracy"], r["tuner_val_accuracy"]]
                 for r in rows]))
    print("wrote", save("throughput-smoke" if args.smoke else "throughput",
                        {"epochs": epochs, "rows": rows}))


if __name__ == "__main__":
    main()
