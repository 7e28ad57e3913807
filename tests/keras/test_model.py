"""keras/model.py and data/preprocessing.py: the tabular recipe and image augmentation,
built from Keras's own layers, saved and loaded without tuner's code."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tuner.core.tasks import Task
from tuner.data.preprocessing import PIECEWISE_BINS, SMOOTH_CLIP, choose
from tuner.keras.model import build_model

PARAMS = {
    "n_layers": 1,
    "units_0": 16,
    "activation": "relu",
    "dropout": 0.0,
    "optimizer": "adam",
    "learning_rate": 1e-2,
}


def saved_and_loaded(model: keras.Model, tmp_path) -> keras.Model:
    model.save(tmp_path / "m.keras")
    return keras.saving.load_model(tmp_path / "m.keras")


def test_robust_scaling_centres_on_the_median_and_bends_outliers_towards_three():
    rng = np.random.default_rng(0)
    x = rng.normal(10.0, 2.0, size=(2000, 1)).astype("float32")
    x[:5] = 1e6  # outliers move neither the median nor the middle half
    encoder = choose(x, "auto").layers("robust")[0]
    scaled = np.asarray(encoder(np.array([[10.0], [12.0], [1e6]], "float32")))[:, 0]
    assert scaled[0] == pytest.approx(0.0, abs=0.05)
    assert scaled[1] == pytest.approx(1.0, abs=0.1)  # one spread above: about 1
    assert SMOOTH_CLIP * 0.99 < scaled[2] <= SMOOTH_CLIP  # bent, not 500,000 spreads


def test_the_piecewise_encoding_is_one_0_to_1_feature_per_quantile_bin():
    x = np.arange(1000, dtype="float32").reshape(-1, 1)
    scaling = choose(x, "auto")
    assert len(scaling.edges[0]) == PIECEWISE_BINS + 1
    encoder = scaling.layers("standard", "piecewise")[0]
    encoded = np.asarray(encoder(np.array([[0.0], [500.0], [999.0]], "float32")))
    bins = encoded[:, 1:]  # after the scaled value
    assert bins.shape == (3, PIECEWISE_BINS)
    np.testing.assert_allclose(bins[0], 0.0)  # below every bin
    np.testing.assert_allclose(bins[2], 1.0)  # past every bin
    assert bins[1].sum() == pytest.approx(PIECEWISE_BINS / 2, abs=0.1)  # half way up
    two_values = np.array([[0.0], [1.0]] * 50, "float32")
    assert choose(two_values, "auto").edges == ((),)  # a flag needs no bins


def test_many_categories_are_embedded_and_an_unseen_one_gets_a_zero_vector():
    codes = np.repeat(np.arange(40), 5).astype("float32").reshape(-1, 1)
    x = np.hstack([codes, np.random.default_rng(0).normal(size=(200, 1)).astype("float32")])
    encoder = choose(x, "auto", categorical=[0]).layers()[0]
    embedded = np.asarray(encoder(np.array([[3.0, 0.0], [99.0, 0.0]], "float32")))
    assert embedded.shape[1] == 1 + 8  # the number, then an 8-wide embedding
    assert np.abs(embedded[0, 1:]).sum() > 0 and np.abs(embedded[1, 1:]).sum() == 0


def test_k_heads_average_their_predictions_in_one_model_that_loads_without_tuner(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4)).astype("float32")
    y = (x[:, 0] * x[:, 1] > 0).astype("int64")
    params = {**PARAMS, "ensemble_k": 4, "numeric_embedding": "piecewise"}
    model = build_model(params, (4,), Task("multiclass", 2), scaling=choose(x, "auto"))
    model.fit(x, y, epochs=2, verbose=0)
    heads = keras.Model(model.inputs, model.get_layer("heads_out").output)
    per_head = np.asarray(heads(x[:8]))
    assert per_head.shape == (8, 4, 2)
    assert np.ptp(per_head, axis=1).max() > 0  # the heads differ
    np.testing.assert_allclose(model.predict(x[:8], verbose=0), per_head.mean(axis=1), atol=1e-6)
    again = saved_and_loaded(model, tmp_path)
    np.testing.assert_allclose(again.predict(x[:8], verbose=0), per_head.mean(axis=1), atol=1e-6)


def test_augmentation_changes_training_batches_only(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.random((16, 12, 12)).astype("float32")
    params = {**PARAMS, "augmentation": "shift_flip"}
    model = build_model(params, (12, 12), Task("multiclass", 3))
    plain = build_model(PARAMS, (12, 12), Task("multiclass", 3))
    plain.set_weights(model.get_weights())
    np.testing.assert_allclose(model(images, training=False), plain(images, training=False))
    assert not np.allclose(model(images, training=True), plain(images, training=True))
    again = saved_and_loaded(model, tmp_path)
    np.testing.assert_allclose(
        again.predict(images, verbose=0), plain.predict(images, verbose=0), atol=1e-6
    )
    with pytest.raises(Exception, match="space.augmentation: for images"):
        build_model(params, (5,), Task("multiclass", 3))
