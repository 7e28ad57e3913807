"""The expert anchor: one hand-designed modern MLP, no search.

Two hidden layers of 1024 with BatchNorm and dropout 0.4, AdamW (1e-3,
weight decay 1e-4), label smoothing 0.1, batch 256, a cosine decay over the
whole run, as an expert writes it by hand. It trains for 40 epochs, or for as
many as fit in the benchmark's budget: after the first epoch it counts how
many more fit (keeping 15 s for the test evaluation) and sets the cosine to
end there. Run by time_to_accuracy.py: STUDY SEED FOLDER LAUNCHED BUDGET.
"""

import math
import sys
import time

import keras
from anchors import start

EPOCHS, PEAK, BATCH = 40, 1e-3, 256
data, record, seed = start()
budget = float(sys.argv[5])
keras.utils.set_random_seed(seed)
layers = [keras.Input(shape=data.x_train.shape[1:]), keras.layers.Flatten()]
for _ in range(2):
    layers += [
        keras.layers.Dense(1024, use_bias=False),
        keras.layers.BatchNormalization(),
        keras.layers.Activation("relu"),
        keras.layers.Dropout(0.4),
    ]
layers.append(keras.layers.Dense(data.n_classes, activation="softmax"))
model = keras.Sequential(layers)
model.compile(
    keras.optimizers.AdamW(PEAK, weight_decay=1e-4),
    keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
    metrics=["accuracy"],
)
y_train, y_val = (keras.utils.to_categorical(y, data.n_classes) for y in (data.y_train, data.y_val))


class FitToBudget(keras.callbacks.Callback):
    """After the first epoch: the epochs that fit the budget, and a cosine over them."""

    def __init__(self) -> None:
        super().__init__()
        self.epochs = EPOCHS
        self.began = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.began = time.time()
        self.model.optimizer.learning_rate = (
            0.5 * PEAK * (1 + math.cos(math.pi * min(epoch, self.epochs) / self.epochs))
        )

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if epoch == 0:
            left = budget - 15 - (time.time() - record.launched)
            self.epochs = max(1, min(EPOCHS, 1 + int(left / (time.time() - self.began))))
        if epoch + 1 >= self.epochs:
            self.model.stop_training = True


history = model.fit(
    data.x_train,
    y_train,
    batch_size=BATCH,
    epochs=EPOCHS,
    verbose=0,
    validation_data=(data.x_val, y_val),
    callbacks=[FitToBudget()],
)
val = history.history["val_accuracy"][-1]  # the model at the end of its schedule
model.compile(model.optimizer, "sparse_categorical_crossentropy", metrics=["accuracy"])
record.trial("COMPLETE", val, model, len(history.history["val_accuracy"]))
