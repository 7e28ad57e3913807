"""Tabular data with categorical columns: will a customer leave?

Generated data (2,000 customers): tenure and monthly charge are numbers and
are normalized; plan (0, 1, 2) and region (10-14) are category codes, one-hot
encoded inside the model (``IntegerLookup``) with the training split's codes
as vocabulary. The promoted model takes the raw four columns.

    tuner run studies/churn.py --trials 10
"""

import tuner
from tuner.datasets import customers

study = tuner.Study(
    data=customers,
    categorical=[2, 3],
    space=tuner.Space(
        n_layers=tuner.Int(0, 2),
        units=tuner.Int(8, 128, log=True),
        learning_rate=tuner.Float(1e-3, 3e-2, log=True),
        batch_size=tuner.Choice([32, 64]),
    ),
    class_names=["stays", "leaves"],
    trials=10,
    max_epochs=40,
    patience=5,
)
