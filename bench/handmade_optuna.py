"""The hand-made anchor: an Optuna loop as Optuna's Keras example writes it.

TPE, MedianPruner, optuna-integration's KerasPruningCallback, EarlyStopping;
the space of tuner's defaults (depth, widths, learning rate, batch size,
optimizer). Run by time_to_accuracy.py: STUDY SEED FOLDER LAUNCHED.
"""

import keras
import optuna
from anchors import OPTIMIZERS, mlp, start
from optuna_integration import KerasPruningCallback

data, record, seed = start()


def objective(trial: optuna.Trial) -> float:
    keras.backend.clear_session()
    n_layers = trial.suggest_int("n_layers", 1, 4)
    units = [trial.suggest_int(f"units_{i}", 16, 1024, log=True) for i in range(n_layers)]
    rate = trial.suggest_float("learning_rate", 1e-4, 1e-1, log=True)
    batch_size = trial.suggest_categorical("batch_size", [32, 64, 128, 256, 512])
    optimizer = trial.suggest_categorical("optimizer", list(OPTIMIZERS))
    model = mlp(data, n_layers, units)
    model.compile(
        OPTIMIZERS[optimizer](rate), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    stop = keras.callbacks.EarlyStopping(
        "val_accuracy", patience=data.patience, restore_best_weights=True
    )
    try:
        history = model.fit(
            data.x_train,
            data.y_train,
            batch_size=batch_size,
            epochs=data.max_epochs,
            validation_data=(data.x_val, data.y_val),
            verbose=0,
            callbacks=[stop, KerasPruningCallback(trial, "val_accuracy")],
        )
    except optuna.TrialPruned:
        record.trial("PRUNED", None, None, 0)
        raise
    best = max(history.history["val_accuracy"])
    record.trial("COMPLETE", best, model, len(history.history["val_accuracy"]))
    return best


optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.create_study(
    direction="maximize",
    sampler=optuna.samplers.TPESampler(seed=seed),
    pruner=optuna.pruners.MedianPruner(),
)
study.optimize(objective, n_trials=100000)
