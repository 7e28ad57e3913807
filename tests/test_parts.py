"""The pieces under `tuner run`: space, task inference, data checks, loaders, model."""

from __future__ import annotations

import gzip
import struct
import time
from pathlib import Path

import numpy as np
import optuna
import pytest

import tuner
from tuner import datasets
from tuner.core.errors import DataError
from tuner.core.tasks import Task
from tuner.data.containers import Data
from tuner.data.targets import check, infer_task
from tuner.keras.model import build_model


def test_default_space_matches_the_documented_ranges():
    space = tuner.Space()
    assert space.n_layers == tuner.Int(1, 4)
    assert space.units == tuner.Int(16, 1024, log=True)
    assert space.learning_rate == tuner.Float(1e-4, 1e-1, log=True)
    assert space.batch_size.values == (32, 64, 128, 256, 512)
    assert space.optimizer.values == ("adam", "sgd", "rmsprop", "nadam", "adamw")


def test_space_suggests_one_width_per_layer_and_copies_fixed_values():
    space = tuner.Space(activation="tanh", dropout=tuner.Float(0.0, 0.5))
    drawn = {
        "n_layers": 3,
        "units_0": 64,
        "units_1": 32,
        "units_2": 16,
        "learning_rate": 0.01,
        "batch_size": 64,
        "optimizer": "adam",
        "dropout": 0.2,
        "weight_decay": 1e-4,
        "lr_schedule": "cosine",
        "normalization": "batch",
        "label_smoothing": 0.1,
        "feature_scaling": "robust",
        "numeric_embedding": "piecewise",
        "ensemble_k": 8,
    }
    params = space.suggest(optuna.trial.FixedTrial(drawn))
    assert params == {
        **drawn,
        "activation": "tanh",
        "momentum": 0.0,
        "kernel_initializer": "glorot_uniform",
        "augmentation": "none",
    }


@pytest.mark.parametrize(
    ("y", "requested", "expected"),
    [
        (np.array([0, 1, 1, 0]), None, Task("binary", 1)),
        (np.array([0, 3, 9, 1]), None, Task("multiclass", 10)),
        (np.array([0.5, 2.25, -1.0]), None, Task("regression", 1)),
        (np.array([151.0, 75.0, 141.0]), None, Task("regression", 1)),
        (np.array([0.0, 1.0, 1.0], "float32"), None, Task("binary", 1)),
        (np.array([1.0, 2.0, 3.0]), "regression", Task("regression", 1)),
        (np.array([0, 1, 1]), "multiclass", Task("multiclass", 2)),
    ],
)
def test_task_is_inferred_from_labels_unless_set(y, requested, expected):
    assert infer_task(y, requested) == expected


def test_binary_task_refuses_other_labels():
    with pytest.raises(DataError, match="labels must be 0 or 1"):
        infer_task(np.array([0, 1, 2]), "binary")


def test_split_keeps_the_last_rows_for_validation():
    x, y = np.arange(20).reshape(10, 2), np.arange(10)
    data = Data.split(x, y, validation=3)
    assert data.x_train.shape == (7, 2)
    np.testing.assert_array_equal(data.y_val, [7, 8, 9])
    assert Data.split(x, y, validation=0.2).x_val.shape == (2, 2)
    with pytest.raises(DataError, match="validation"):
        Data.split(x, y, validation=10)


def test_check_refuses_test_split_with_other_feature_shape():
    x = np.zeros((10, 3), "float32")
    data = Data(x, np.zeros(10), x, np.zeros(10), np.zeros((4, 2), "float32"), np.zeros(4))
    with pytest.raises(DataError, match=r"test split: feature shape \(2,\) differs"):
        check(data, Task("binary", 1))


def write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_reads_the_idx_files_of_the_debian_package(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(12, 28, 28))
    labels = rng.integers(0, 10, size=12)
    for prefix in ("train", "t10k"):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", labels)
    monkeypatch.setattr(datasets, "FASHION_MNIST_DIR", tmp_path)

    data = datasets.fashion_mnist(validation=2)

    assert data.x_train.shape == (10, 28, 28) and data.x_val.shape == (2, 28, 28)
    assert data.x_train.dtype == np.uint8  # raw pixels: the model rescales them
    np.testing.assert_array_equal(data.x_val, images[-2:])
    np.testing.assert_array_equal(data.y_test, labels)


KERAS_FASHION_CACHE = Path.home() / ".keras" / "datasets" / "fashion-mnist"


@pytest.mark.skipif(
    any(KERAS_FASHION_CACHE.glob("*.gz")),
    reason="Keras's cache holds Fashion-MNIST files on this machine",
)
def test_fashion_mnist_without_data_or_network_fails_fast_with_how_to(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "FASHION_MNIST_DIR", tmp_path / "absent")
    started = time.monotonic()
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        datasets.fashion_mnist()
    assert time.monotonic() - started < datasets.DOWNLOAD_TIMEOUT_S * 4 + 5


@pytest.mark.parametrize("loader", [datasets.synthetic, datasets.digits, datasets.diabetes])
def test_offline_loaders_return_checked_data(loader):
    data = loader()
    task = infer_task(data.y_train)
    check(data, task)
    assert data.x_test is not None


def test_model_has_flatten_for_images_and_output_by_task():
    params = {
        "n_layers": 2,
        "units_0": 8,
        "units_1": 4,
        "activation": "relu",
        "dropout": 0.1,
        "optimizer": "rmsprop",
        "learning_rate": 0.01,
    }
    model = build_model(params, (8, 8), Task("multiclass", 10))
    names = [type(layer).__name__ for layer in model.layers]
    assert names == ["Flatten", "Dense", "Dropout", "Dense", "Dropout", "Dense"]
    assert model.output_shape == (None, 10)
    assert model.loss == "sparse_categorical_crossentropy"
    assert type(model.optimizer).__name__ == "RMSprop"
    regression = build_model({**params, "n_layers": 0}, (3,), Task("regression", 1))
    assert regression.loss == "mse" and regression.output_shape == (None, 1)
