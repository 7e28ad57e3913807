"""The KerasTuner anchor: Hyperband through KerasTuner's own ``search``.

The same space as the hand-made loop, ``max_epochs`` and EarlyStopping from
the study. Run by time_to_accuracy.py: STUDY SEED FOLDER LAUNCHED.
"""

import keras
import keras_tuner as kt
from anchors import OPTIMIZERS, mlp, start

data, record, seed = start()


def build(hp: kt.HyperParameters) -> keras.Model:
    n_layers = hp.Int("n_layers", 1, 4)
    units = [hp.Int(f"units_{i}", 16, 1024, sampling="log") for i in range(n_layers)]
    model = mlp(data, n_layers, units)
    rate = hp.Float("learning_rate", 1e-4, 1e-1, sampling="log")
    model.compile(
        OPTIMIZERS[hp.Choice("optimizer", list(OPTIMIZERS))](rate),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


class HyperbandWithBatchSize(kt.Hyperband):
    def run_trial(self, trial, *args, **kwargs):
        kwargs["batch_size"] = trial.hyperparameters.Choice("batch_size", [32, 64, 128, 256, 512])
        return super().run_trial(trial, *args, **kwargs)


class Recorded(keras.callbacks.Callback):
    """After EarlyStopping restored the best weights: this fit's record."""

    def on_train_begin(self, logs=None):
        self.values = []

    def on_epoch_end(self, epoch, logs=None):
        self.values.append(logs["val_accuracy"])

    def on_train_end(self, logs=None):
        record.trial("COMPLETE", max(self.values), self.model, len(self.values))


search = HyperbandWithBatchSize(
    build,
    objective="val_accuracy",
    max_epochs=data.max_epochs,
    factor=3,
    seed=seed,
    directory=str(record.path.parent),
    project_name="kt",
)
search.search(
    data.x_train,
    data.y_train,
    validation_data=(data.x_val, data.y_val),
    verbose=0,
    callbacks=[
        keras.callbacks.EarlyStopping(
            "val_accuracy", patience=data.patience, restore_best_weights=True
        ),
        Recorded(),
    ],
)
