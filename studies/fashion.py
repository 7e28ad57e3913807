"""Fashion-MNIST, as in the Keras tutorials: 55,000 training and 5,000 validation images.

The data comes from Debian's package ``dataset-fashion-mnist``
(/usr/share/datasets/fashion-mnist/) when installed, else from Keras's cache.
The search starts from tuner's portfolio of strong configurations, then the
tutorials' hand-made model (300-100 ReLU, SGD) as the baseline to beat, then
the sampler. Each trial may train for up to 40 epochs, fewer where the time
budget ends first (docs/search-strategy.md).

    tuner run studies/fashion.py --timeout 1200
"""

import tuner
from tuner.datasets import FASHION_MNIST_CLASSES, fashion_mnist

study = tuner.Study(
    data=fashion_mnist,
    class_names=FASHION_MNIST_CLASSES,
    trials=10,
    max_epochs=40,
    patience=3,
    baselines=[
        {
            "n_layers": 2,
            "units_0": 300,
            "units_1": 100,
            "learning_rate": 0.01,
            "batch_size": 32,
            "optimizer": "sgd",
        }
    ],
)
