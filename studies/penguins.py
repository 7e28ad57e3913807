"""Palmer penguins: species from a table with string columns and gaps, offline.

344 penguins of three species (Adelie, Chinstrap, Gentoo) from the
``palmerpenguins`` package's CSV: island and sex are strings, the four body
measurements are numbers, and some cells are empty. ``Data.from_frame``
shuffles and stratifies the split by species; inside the model, strings are
one-hot encoded (``StringLookup``), numbers are normalized, and a missing
number is filled with its training median and flagged. The logged model takes
the raw row: ``tuner predict models:/penguins@champion new.csv``.

    pip install palmerpenguins
    tuner run studies/penguins.py --trials 20
"""

import tuner
from tuner.datasets import penguins_frame


def penguins(seed: int) -> tuner.Data:
    return tuner.Data.from_frame(
        penguins_frame(), target="species", validation=0.2, test=0.2, seed=seed
    )


study = tuner.Study(
    data=penguins,
    space=tuner.Space(
        n_layers=tuner.Int(0, 2),
        units=tuner.Int(8, 64, log=True),
        learning_rate=tuner.Float(1e-3, 3e-2, log=True),
        batch_size=tuner.Choice([16, 32]),
    ),
    trials=20,
    max_epochs=60,
    patience=8,
)
