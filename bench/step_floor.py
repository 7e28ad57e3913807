"""Where an epoch of large batches goes: Keras's loop and pipeline, or the arithmetic.

    python bench/step_floor.py                 # Fashion-MNIST, batch 512, 3 epochs, 3 rounds
    python bench/step_floor.py --batch-size 128
    python bench/step_floor.py --smoke         # synthetic data: checks it runs

One bare model (the tutorials' 300-100 MLP, SGD, inputs divided by 255 by
hand) trained three ways, seconds per epoch without validation, after a
warm-up epoch each, the three alternating, medians over rounds:

- "fit on arrays": `model.fit(x, y, batch_size=...)`, Keras's own pipeline
  (a shuffled index and a gather per batch), as a tutorial does;
- "fit on cached batches": `fit` on the same rows batched once and cached as
  a `tf.data` dataset: Keras's loop without shuffle or gather;
- "graph loop": the same training steps as one `tf.function` that loops over
  the batches inside the graph: the arithmetic and the optimizer, nothing else.

If the graph loop is much faster than `fit`, a faster trial has to come from
Keras's loop or the input pipeline, not from the matrix work.
"""

from __future__ import annotations

import argparse
import statistics
import time

import keras
import numpy as np
import tensorflow as tf
from common import bare_model, load, save, scaled_by_hand, table


def graph_epoch(model: keras.Model, x: tf.Tensor, y: tf.Tensor, batch_size: int):
    """One epoch of training steps as a single ``tf.function``."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    n_batches = int(x.shape[0]) // batch_size

    @tf.function
    def epoch() -> tf.Tensor:
        loss = tf.constant(0.0)
        for i in tf.range(n_batches):
            xb = x[i * batch_size:(i + 1) * batch_size]
            yb = y[i * batch_size:(i + 1) * batch_size]
            with tf.GradientTape() as tape:
                loss = loss_fn(yb, model(xb, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            model.optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return epoch


def run(batch_size: int, epochs: int, rounds: int, smoke: bool) -> dict:
    data = scaled_by_hand(load(smoke))
    x, y = data.x_train.astype("float32"), data.y_train
    n_classes = int(y.max()) + 1
    cached = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).cache()
    keras.utils.set_random_seed(0)
    model = bare_model(x.shape[1:], max(n_classes, 2))
    in_graph = graph_epoch(model, tf.constant(x), tf.constant(y), batch_size)
    arms = {
        "fit on arrays": lambda e: model.fit(x, y, batch_size=batch_size, epochs=e, verbose=0),
        "fit on cached batches": lambda e: model.fit(cached, epochs=e, verbose=0),
        "graph loop": lambda e: [float(in_graph()) for _ in range(e)],
    }
    for arm in arms.values():  # traces, and fills the cache
        arm(1)
    seconds: dict[str, list[float]] = {name: [] for name in arms}
    for _ in range(rounds):
        for name, arm in arms.items():
            started = time.perf_counter()
            arm(epochs)
            seconds[name].append((time.perf_counter() - started) / epochs)
    return {"batch_size": batch_size, "n_rows": len(x), "epochs": epochs, "rounds": rounds,
            "seconds_per_epoch": seconds,
            "median": {name: statistics.median(s) for name, s in seconds.items()},
            "finite_weights": all(np.isfinite(w).all() for w in model.get_weights())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    result = run(64 if args.smoke else args.batch_size, 1 if args.smoke else args.epochs,
                 1 if args.smoke else args.rounds, args.smoke)
    floor = result["median"]["graph loop"]
    print(table(["way", "s per epoch (median)", "rounds", "× graph loop"],
                [[name, median, " ".join(f"{s:.3f}" for s in result["seconds_per_epoch"][name]),
                  f"{median / floor:.2f}x"] for name, median in result["median"].items()]))
    print("wrote", save("step_floor-smoke" if args.smoke else "step_floor", result))


if __name__ == "__main__":
    main()
