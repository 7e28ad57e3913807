"""Iris, the perceptron example: three classes from four raw measurements, offline.

Zero hidden layers is a point of the space (softmax regression, the
perceptron-style baseline); features are normalized inside the model.

    tuner run studies/iris.py --trials 20
"""

import tuner
from tuner.datasets import iris

study = tuner.Study(
    data=iris,
    space=tuner.Space(
        n_layers=tuner.Int(0, 2),
        units=tuner.Int(4, 64, log=True),
        learning_rate=tuner.Float(1e-3, 1e-1, log=True),
        batch_size=tuner.Choice([8, 16, 32]),
    ),
    class_names=["setosa", "versicolor", "virginica"],
    baselines=[{"n_layers": 0, "learning_rate": 0.05, "batch_size": 16, "optimizer": "sgd"}],
    trials=20,
    max_epochs=100,
    patience=10,
)
