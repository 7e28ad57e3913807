"""Reference trial throughput: bare Keras `fit` against a tuner trial, same model, one run.

    python bench/throughput.py            # Fashion-MNIST, batch 32/128/512, 5 epochs, 3 rounds
    python bench/throughput.py --smoke    # synthetic data, 1 epoch: checks it runs

Bare and tuner alternate, several rounds per batch size; the table gives the
median of each, so a burst of load from elsewhere on a shared machine moves
one round, not the result; "per round" is the range of each round's bare time
over its tuner time, the two measured one after the other.

Both train the tutorials' 784-300-100-10 MLP (SGD 0.01) from the same seed.
"bare" is `model.fit` with Keras defaults on pixels divided by 255 by hand;
"tuner" is `tuner.keras.training.fit` on raw pixels and a model from
`tuner.keras.model.build_model` (its Rescaling layer included) with tuner's default
compile options (steps_per_execution, jit_compile on "auto"), EarlyStopping
and all. A third arm is the same trial with `mixed_precision="bfloat16"` (the
hidden layers in bfloat16), an opt-in for CPUs with AVX512_BF16 or AMX.
"""

from __future__ import annotations

import argparse
import statistics
import time

import keras
from common import REFERENCE, bare_model, load, save, scaled_by_hand, table

from tuner.data.preprocessing import choose
from tuner.data.targets import infer_task
from tuner.keras.model import build_model, compile_options
from tuner.keras.training import FitPlan, fit

# bare Keras, tuner's default trial, and tuner with bfloat16 hidden layers (opt-in)
ARMS: dict[str, bool | str | None] = {"bare": None, "tuner": False, "tuner_bf16": "bfloat16"}


def run(batch_sizes: list[int], epochs: int, smoke: bool, rounds: int) -> list[dict]:
    data = load(smoke)
    by_hand = scaled_by_hand(data)
    scaling = choose(data.x_train, "auto")
    task = infer_task(data.y_train)
    n_samples = len(data.x_train) * epochs
    rows = []
    for batch_size in batch_sizes:
        options = compile_options(batch_size, "auto", "auto")
        seconds: dict[str, list[float]] = {arm: [] for arm in ARMS}
        accuracy: dict[str, float] = {}
        for _ in range(rounds):
            for arm in ARMS:
                keras.backend.clear_session()
                keras.utils.set_random_seed(0)
                if arm == "bare":
                    model = bare_model(data.x_train.shape[1:], max(task.n_outputs, 2))
                    started = time.perf_counter()
                    history = model.fit(
                        by_hand.x_train,
                        by_hand.y_train,
                        batch_size=batch_size,
                        epochs=epochs,
                        validation_data=(by_hand.x_val, by_hand.y_val),
                        verbose=0,
                    ).history
                    seconds[arm].append(time.perf_counter() - started)
                else:
                    params = {**REFERENCE, "batch_size": batch_size}
                    model = build_model(
                        params,
                        data.x_train.shape[1:],
                        task,
                        scaling=scaling,
                        mixed_precision=ARMS[arm],
                        **options,
                    )
                    result = fit(
                        model,
                        data,
                        FitPlan(
                            batch_size=batch_size,
                            objective="val_accuracy",
                            direction="maximize",
                            max_epochs=epochs,
                            patience=epochs,
                        ),
                    )
                    history = result.history
                    seconds[arm].append(result.fit_seconds)
                accuracy[arm] = history["val_accuracy"][-1]
        median = {arm: statistics.median(s) for arm, s in seconds.items()}
        rows.append(
            {
                "batch_size": batch_size,
                **options,
                "rounds": rounds,
                "seconds": seconds,
                **{f"{arm}_samples_per_s": n_samples / median[arm] for arm in ARMS},
                **{f"{arm}_speedup": median["bare"] / median[arm] for arm in ARMS},
                # each round's bare time over the same round's: a drift of the machine cancels
                **{
                    f"{arm}_round_speedups": [
                        b / a for b, a in zip(seconds["bare"], s, strict=True)
                    ]
                    for arm, s in seconds.items()
                },
                **{f"{arm}_val_accuracy": accuracy[arm] for arm in ARMS},
            }
        )
    return rows


def spread(ratios: list[float]) -> str:
    return f"{min(ratios):.2f}-{max(ratios):.2f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-sizes", default="32,128,512")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    epochs = 1 if args.smoke else args.epochs
    rows = run(
        [int(b) for b in args.batch_sizes.split(",")],
        epochs,
        args.smoke,
        1 if args.smoke else args.rounds,
    )
    print(
        table(
            [
                "batch",
                "steps/exec",
                "jit",
                "bare samples/s",
                "tuner samples/s",
                "tuner / bare",
                "per round",
                "tuner bf16 / bare",
                "bare val acc",
                "tuner val acc",
                "tuner bf16 val acc",
            ],
            [
                [
                    r["batch_size"],
                    r["steps_per_execution"],
                    r["jit_compile"],
                    round(r["bare_samples_per_s"]),
                    round(r["tuner_samples_per_s"]),
                    f"{r['tuner_speedup']:.2f}x",
                    spread(r["tuner_round_speedups"]),
                    f"{r['tuner_bf16_speedup']:.2f}x",
                    r["bare_val_accuracy"],
                    r["tuner_val_accuracy"],
                    r["tuner_bf16_val_accuracy"],
                ]
                for r in rows
            ],
        )
    )
    print(
        "wrote",
        save("throughput-smoke" if args.smoke else "throughput", {"epochs": epochs, "rows": rows}),
    )


if __name__ == "__main__":
    main()
