"""scikit-learn's bundled 8x8 digits: ten classes, 1,797 images, offline.

tuner run studies/digits.py --trials 20
"""

import tuner
from tuner.datasets import digits

study = tuner.Study(
    data=digits,
    space=tuner.Space(units=tuner.Int(16, 256, log=True)),
    trials=20,
    max_epochs=40,
    patience=5,
)
