"""Tests of the `SparseRecoding` layer."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kr_keras.layers import SparseRecoding


def test_tau_initialised_to_mean_abs_residual_then_follows_its_rule():
    layer = SparseRecoding(threshold_rate=0.05)
    x = tf.constant([[1.0, -3.0, 2.0]])
    layer(x, x)
    # Initialised to mean|r| = 2, then one step: 2 of 3 entries inactive.
    np.testing.assert_allclose(float(layer.tau.numpy()), 2.0 * np.exp(-0.05 * (2 / 3 - 0.5)),
                               rtol=1e-6)
    np.testing.assert_allclose(float(layer.inactive_fraction.numpy()), 2 / 3, rtol=1e-6)
    tau = float(layer.tau.numpy())
    layer(x, x * 10.0)  # not re-initialised: every entry active, tau grows
    np.testing.assert_allclose(float(layer.tau.numpy()), tau * np.exp(0.05 * 0.5), rtol=1e-6)
    assert layer.tau.name == "tau"
    # No optimizer (and so no learning rate or weight decay) touches tau.
    assert not layer.trainable_weights


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_tau_tracks_target_quantile_whatever_the_residual_scale(scale):
    keras.utils.set_random_seed(0)
    layer = SparseRecoding(target_inactive=0.8)
    taus = []
    for step in range(400):
        residual = scale * tf.abs(tf.random.normal([1024], seed=step))
        layer(tf.ones_like(residual), residual)
        taus.append(float(layer.tau.numpy()))
    quantile = scale * np.quantile(np.abs(np.random.default_rng(0).normal(size=100_000)), 0.8)
    assert abs(taus[-1] - quantile) < 0.05 * quantile
    steps = np.abs(np.diff(taus)) / np.array(taus[:-1])
    assert steps.max() <= 0.05 * 0.8 + 1e-6
    assert abs(float(layer.inactive_fraction.numpy()) - 0.8) < 0.1


def test_training_false_leaves_tau_alone():
    layer = SparseRecoding()
    x = tf.constant([[1.0, -3.0, 2.0]])
    layer(x, x)
    tau = float(layer.tau.numpy())
    layer(x, x * 10.0, training=False)
    assert float(layer.tau.numpy()) == tau


def test_rejects_bad_arguments():
    for kwargs in ({"boost": -1.0}, {"floor": -0.1}, {"target_inactive": 1.5},
                   {"threshold_rate": -0.1}):
        try:
            SparseRecoding(**kwargs)
        except ValueError as error:
            assert "Received" in str(error)
        else:
            raise AssertionError(f"no error for {kwargs}")


def test_config_round_trip_and_keras_file(tmp_path):
    layer = SparseRecoding(boost=3.0, floor=0.1, target_inactive=0.3,
                           threshold_rate=0.1, name="srp")
    clone = SparseRecoding.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()

    inputs = keras.Input((4,))
    outputs = SparseRecoding(boost=3.0, name="srp")(inputs, inputs)
    model = keras.Model(inputs, outputs)
    model.predict(np.ones((2, 4), "float32"), verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.get_layer("srp").boost == 3.0
    np.testing.assert_allclose(
        float(loaded.get_layer("srp").tau.numpy()),
        float(model.get_layer("srp").tau.numpy()),
    )
