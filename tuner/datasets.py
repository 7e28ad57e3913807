"""Loaders for the data sets of the example studies.

Each looks in local places first and fails within seconds, with one line that
says how to get the data, when nothing local is there and there is no network.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tuner.core.errors import DataError, first_line
from tuner.data.containers import Data
from tuner.data.splitting import shuffled_split

if TYPE_CHECKING:
    import pandas as pd

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
DOWNLOAD_TIMEOUT_S = 10.0


def read_idx(path: Path) -> np.ndarray:
    """Read one gzipped IDX file (the format of MNIST and Fashion-MNIST)."""
    with gzip.open(path, "rb") as f:
        _, dtype_code, n_dims = struct.unpack(">HBB", f.read(4))
        if dtype_code != 0x08:
            raise DataError(
                f"{path}: expected unsigned-byte IDX data, received type {dtype_code:#x}"
            )
        shape = struct.unpack(f">{n_dims}I", f.read(4 * n_dims))
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(shape)


Arrays = tuple[np.ndarray, np.ndarray]


def _read_idx_set(folder: Path) -> tuple[Arrays, Arrays]:
    def part(name: str) -> np.ndarray:
        return read_idx(folder / f"{name}-ubyte.gz")

    return (
        (part("train-images-idx3"), part("train-labels-idx1")),
        (part("t10k-images-idx3"), part("t10k-labels-idx1")),
    )


@contextlib.contextmanager
def _download_timeout(seconds: float) -> Iterator[None]:
    """Bound Keras's downloader so a machine without network fails fast, never hangs."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _keras_load(load_data: Callable[[], tuple], name: str, how_to_get: str) -> tuple:
    try:
        with _download_timeout(DOWNLOAD_TIMEOUT_S):
            return load_data()
    except Exception as exc:  # urllib, socket and Keras raise many kinds here
        raise DataError(
            f"{name} is not available locally and could not be downloaded "
            f"({first_line(exc)}); {how_to_get}"
        ) from exc


def _images(train: tuple, test: tuple, validation: int) -> Data:
    """Raw 0-255 pixels: the models rescale them in a layer of their own."""
    (x, y), (x_test, y_test) = train, test
    return Data.split(
        x, y.astype("int64"), validation=validation, x_test=x_test, y_test=y_test.astype("int64")
    )


def fashion_mnist(validation: int = 5000) -> Data:
    """Fashion-MNIST: 55,000 training, 5,000 validation and 10,000 test images."""
    if (FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").exists():
        return _images(*_read_idx_set(FASHION_MNIST_DIR), validation)
    import keras

    train, test = _keras_load(
        keras.datasets.fashion_mnist.load_data,
        "Fashion-MNIST",
        "install Debian's package with `apt-get install dataset-fashion-mnist`, "
        "or copy the four IDX files into ~/.keras/datasets/fashion-mnist/",
    )
    return _images(train, test, validation)


def mnist(validation: int = 5000) -> Data:
    """MNIST through Keras (its cache ~/.keras/datasets/mnist.npz, or a download)."""
    import keras

    train, test = _keras_load(
        keras.datasets.mnist.load_data,
        "MNIST",
        "copy mnist.npz into ~/.keras/datasets/ on a machine without network",
    )
    return _images(train, test, validation)


def synthetic(n: int = 1200, seed: int = 42, stratify: bool = False) -> Data:
    """The tutorials' two-feature binary task: label = x1 + x2 > 1, split 800/200/200.

    The last rows are validation and test, as the tutorials split; ``stratify``
    draws them at random with each class's share of the whole.
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, size=(n, 2)).astype("float32")
    y = (x.sum(axis=1) > 1.0).astype("int64")
    n_test = n // 6
    if stratify:
        train, val, test = shuffled_split(
            n, y, validation=n_test, test=n_test, seed=seed, stratify=True
        )
        return Data(x[train], y[train], x[val], y[val], x[test], y[test])
    return Data.split(
        x[:-n_test], y[:-n_test], validation=n_test, x_test=x[-n_test:], y_test=y[-n_test:]
    )


def _shuffled_split(x: np.ndarray, y: np.ndarray, seed: int) -> Data:
    """60/20/20 train/validation/test after one seeded shuffle."""
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    n_test = len(x) // 5
    return Data.split(
        x[:-n_test], y[:-n_test], validation=n_test, x_test=x[-n_test:], y_test=y[-n_test:]
    )


def digits(seed: int = 0) -> Data:
    """scikit-learn's bundled 8x8 digits (1,797 images, ten classes), raw values 0-16."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return _shuffled_split(bunch.images.astype("float32"), bunch.target.astype("int64"), seed)


def diabetes(seed: int = 0) -> Data:
    """scikit-learn's bundled diabetes regression set (442 patients, ten features)."""
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes()
    return _shuffled_split(bunch.data.astype("float32"), bunch.target.astype("float32"), seed)


def iris(seed: int = 0) -> Data:
    """scikit-learn's bundled iris: 150 flowers, four raw measurements, three classes."""
    from sklearn.datasets import load_iris

    bunch = load_iris()
    return _shuffled_split(bunch.data.astype("float32"), bunch.target.astype("int64"), seed)


def inbox(n: int = 2000, seed: int = 0) -> Data:
    """Generated multi-label data: columns spam and urgent, each 0 or 1, from six features."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32") * [1, 2, 5, 1, 10, 1] + [0, 3, 0, 1, 50, 0]
    spam = (x[:, 0] + 0.5 * x[:, 1] > 1.5).astype("int64")
    urgent = (0.2 * x[:, 2] - 0.1 * (x[:, 4] - 50) > 0.2).astype("int64")
    return _shuffled_split(x.astype("float32"), np.stack([spam, urgent], axis=1), seed)


CUSTOMERS_COLUMNS = ("tenure_months", "monthly_charge", "plan", "region")


def customers(n: int = 2000, seed: int = 0) -> Data:
    """Generated churn data with two categorical columns, given as integer codes.

    Columns: tenure in months, monthly charge, plan (0 monthly, 1 yearly,
    2 two-year) and region (codes 10-14, one of which churns far more).
    Churn depends on the plan and the region as categories, not as numbers.
    """
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, n)
    charge = rng.normal(70, 25, n).clip(15, 150)
    plan = rng.integers(0, 3, n)
    region = rng.integers(10, 15, n)
    risk = (
        1.5 * (plan == 0)
        - 1.2 * (plan == 2)
        + 1.8 * (region == 12)
        - 0.04 * tenure
        + 0.02 * (charge - 70)
        + rng.normal(0, 0.5, n)
    )
    x = np.stack([tenure, charge, plan, region], axis=1).astype("float32")
    return _shuffled_split(x, (risk > 0).astype("int64"), seed)


def penguins_frame() -> pd.DataFrame:
    """The ``palmerpenguins`` package's 344 penguins as a DataFrame (its CSV, offline)."""
    try:
        from palmerpenguins import load_penguins
    except ImportError:
        raise DataError(
            "the penguins study needs the palmerpenguins package: pip install palmerpenguins"
        ) from None
    return load_penguins()
