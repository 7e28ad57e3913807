"""Every list of names tuner accepts, each defined once, with what each name means.

The study's checks, the command line's choices, the engines and the docs all
read these tables (``tests/core/test_names.py`` checks that the docs list exactly
them). This module imports nothing heavy, so ``tuner --help`` stays fast.
"""

from __future__ import annotations

SAMPLERS: dict[str, str] = {
    "tpe": "Optuna's multivariate TPE, grouped so that per-layer widths are modelled together",
    "random": "Optuna's RandomSampler",
    "grid": "Optuna's GridSampler; every searched dimension must be a Choice",
    "cmaes": "Optuna's CmaEsSampler on the numeric dimensions, choices sampled at random",
    "qmc": "Optuna's QMCSampler (Sobol sequence)",
}

PRUNERS: dict[str, str] = {
    "median": "Optuna's MedianPruner after 4 trials and 2 warm-up epochs",
    "percentile": "Optuna's PercentilePruner at the 25th percentile, same start-up and warm-up",
    "hyperband": "Optuna's HyperbandPruner from 1 epoch to max_epochs",
    "successive-halving": "Optuna's SuccessiveHalvingPruner from 1 epoch",
    "none": "no pruning (Optuna's NopPruner)",
}

OPTIMIZERS: dict[str, str] = {
    "adam": "keras.optimizers.Adam",
    "sgd": "keras.optimizers.SGD, with the space's momentum",
    "rmsprop": "keras.optimizers.RMSprop",
    "nadam": "keras.optimizers.Nadam",
    "adamw": "keras.optimizers.AdamW",
}

ACTIVATIONS: dict[str, str] = {
    name: f"Keras's {name!r} activation"
    for name in ("relu", "elu", "selu", "gelu", "tanh", "sigmoid", "swish", "leaky_relu")
}

NORMALIZATIONS: dict[str, str] = {
    "none": "Dense, activation",
    "batch": "Dense, BatchNormalization, activation",
    "layer": "Dense, LayerNormalization, activation",
}

FEATURE_SCALINGS: dict[str, str] = {
    "standard": "tabular numbers minus the training mean, over its standard deviation",
    "robust": (
        "tabular numbers minus the training median, over the middle half's spread, "
        "smoothly clipped to about ±3 (RealMLP's)"
    ),
}

NUMERIC_EMBEDDINGS: dict[str, str] = {
    "none": "each tabular number enters the network as one scaled value",
    "piecewise": (
        "beside it, one 0..1 feature per quantile bin of its column (piecewise-linear "
        "encoding, Gorishniy et al. 2022)"
    ),
}

AUGMENTATIONS: dict[str, str] = {
    "none": "the images as they are",
    "shift": "RandomTranslation by up to 10 % of the height and width, in training only",
    "shift_flip": "as shift, and RandomFlip('horizontal'): for classes a mirror keeps",
}

LR_SCHEDULES: dict[str, str] = {
    "constant": "the trial's learning rate throughout",
    "cosine": (
        "cosine decay per epoch to 0 at the last epoch the trial can reach (max_epochs, "
        "or fewer before the search's deadline); EarlyStopping waits a quarter of it"
    ),
    "plateau": "ReduceLROnPlateau on the objective: halved after 2 epochs without progress",
}

ENGINES: dict[str, str] = {
    "optuna": "Optuna's samplers and pruners on a persistent Optuna study",
    "keras-tuner": "KerasTuner's own search loop (see ALGORITHMS)",
}

ALGORITHMS: dict[str, str] = {
    "hyperband": "keras_tuner.Hyperband",
    "bayesian": "keras_tuner.BayesianOptimization",
    "random": "keras_tuner.RandomSearch",
}

ENSEMBLE_METHODS: dict[str, str] = {
    "best-k": (
        "the mean of the k best candidates, k chosen on the validation outputs (k = 1, the "
        "best trial alone, where no mean beats it)"
    ),
    "mean": "equal weights over the K candidates",
    "greedy": (
        "Caruana's forward selection with replacement, 20 rounds, kept at its best round "
        "(the first round is the best trial alone)"
    ),
}

EXPORT_FORMATS: dict[str, str] = {
    "saved_model": "a TensorFlow SavedModel (Keras's model.export)",
    "onnx": "ONNX, converted by tf2onnx from the frozen graph",
    "tflite": "TFLite (LiteRT), Keras's model.export(format='litert')",
}

TABLES: dict[str, dict[str, str]] = {
    "sampler": SAMPLERS,
    "pruner": PRUNERS,
    "optimizer": OPTIMIZERS,
    "activation": ACTIVATIONS,
    "normalization": NORMALIZATIONS,
    "lr_schedule": LR_SCHEDULES,
    "feature_scaling": FEATURE_SCALINGS,
    "numeric_embedding": NUMERIC_EMBEDDINGS,
    "augmentation": AUGMENTATIONS,
    "engine": ENGINES,
    "algorithm": ALGORITHMS,
    "ensemble": ENSEMBLE_METHODS,
}
