"""Tests of the `SparseRecoding` layer."""

import keras
import numpy as np
import tensorflow as tf

from kr_keras.layers import SparseRecoding


def test_tau_initialised_to_mean_abs_residual_on_first_call_only():
    layer = SparseRecoding()
    x = tf.constant([[1.0, -3.0, 2.0]])
    layer(x, x)
    np.testing.assert_allclose(float(layer.tau.numpy()), 2.0)
    layer(x, x * 10.0)
    np.testing.assert_allclose(float(layer.tau.numpy()), 2.0)
    assert layer.tau.name == "tau"
    assert layer.tau.trainable


def test_tau_tracks_target_quantile_under_sgd():
    keras.utils.set_random_seed(0)
    layer = SparseRecoding(target_inactive=0.8)
    optimizer = keras.optimizers.SGD(0.05)
    residual = tf.abs(tf.random.normal([4096]))
    for _ in range(300):
        with tf.GradientTape() as tape:
            x = tf.ones_like(residual)
            loss = tf.reduce_sum(layer(x, residual))
        grads = tape.gradient(loss, layer.trainable_variables)
        optimizer.apply(grads, layer.trainable_variables)
    quantile = np.quantile(residual.numpy(), 0.8)
    assert abs(float(layer.tau.numpy()) - quantile) < 0.1


def test_rejects_bad_arguments():
    for kwargs in ({"boost": -1.0}, {"floor": -0.1}, {"target_inactive": 1.5}):
        try:
            SparseRecoding(**kwargs)
        except ValueError as error:
            assert "Received" in str(error)
        else:
            raise AssertionError(f"no error for {kwargs}")


def test_config_round_trip_and_keras_file(tmp_path):
    layer = SparseRecoding(boost=3.0, floor=0.1, target_inactive=0.3, name="srp")
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
