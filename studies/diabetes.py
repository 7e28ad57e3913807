"""Regression: scikit-learn's bundled diabetes data (442 patients), MSE loss.

The objective is the validation loss (mean squared error), minimised.

    tuner run studies/diabetes.py --trials 20
"""

import tuner
from tuner.datasets import diabetes

study = tuner.Study(
    data=diabetes,
    task="regression",
    space=tuner.Space(
        n_layers=tuner.Int(1, 3),
        units=tuner.Int(8, 256, log=True),
        learning_rate=tuner.Float(1e-3, 1e-1, log=True),
        batch_size=tuner.Choice([16, 32, 64]),
    ),
    trials=20,
    max_epochs=200,
    patience=10,
)
