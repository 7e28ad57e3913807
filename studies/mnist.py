"""MNIST through Keras (its cache ~/.keras/datasets/mnist.npz, or a download).

tuner run studies/mnist.py --trials 10
"""

import tuner
from tuner.datasets import mnist

study = tuner.Study(data=mnist, trials=10, max_epochs=20, patience=3)
