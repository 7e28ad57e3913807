"""The tutorials' two-feature binary task (label = x1 + x2 > 1): the offline smoke test.

tuner run studies/synthetic.py --trials 8
"""

import tuner
from tuner.datasets import synthetic


def data(seed: int) -> tuner.Data:
    """The study's seed draws the points; each split keeps the classes' shares."""
    return synthetic(seed=seed, stratify=True)


study = tuner.Study(
    data=data,
    space=tuner.Space(
        n_layers=tuner.Int(1, 2),
        units=tuner.Int(4, 64, log=True),
        learning_rate=tuner.Float(1e-3, 1e-1, log=True),
        batch_size=tuner.Choice([16, 32, 64]),
    ),
    trials=8,
    max_epochs=15,
    patience=3,
)
