"""Tests of `IdentityMapping` and `KnowledgeAggregation`."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kr_keras.layers import IdentityMapping
from kr_keras.layers import KnowledgeAggregation


def test_identity_mapping_modes():
    x = np.arange(2 * 4 * 4 * 1, dtype="float32").reshape(2, 4, 4, 1)
    np.testing.assert_array_equal(IdentityMapping((4, 4))(x), x)
    pooled = np.asarray(IdentityMapping((2, 2))(x))
    np.testing.assert_allclose(pooled[0, 0, 0, 0], x[0, :2, :2, 0].mean())
    resized = IdentityMapping((3, 3))(x)
    np.testing.assert_allclose(resized, tf.image.resize(x, (3, 3)), rtol=1e-6)


def test_aggregation_group_of_three_cifar_shapes():
    # Stage-1 group of a ResNet-20 teacher → ResNet-8x0.75 student tap.
    maps = [np.ones((2, 28, 28, 16), "float32")] * 3
    out = KnowledgeAggregation(filters=12, target_size=(28, 28))(maps)
    assert out.shape == (2, 28, 28, 12)


def test_aggregation_group_of_four_with_spatial_mismatch():
    # ImageNet-style: a group spanning a stride-2 stage boundary.
    maps = [
        np.random.rand(2, 56, 56, 64).astype("float32"),
        np.random.rand(2, 56, 56, 64).astype("float32"),
        np.random.rand(2, 28, 28, 128).astype("float32"),
        np.random.rand(2, 28, 28, 128).astype("float32"),
    ]
    layer = KnowledgeAggregation(filters=32, target_size=(28, 28))
    out = layer(maps, training=True)
    assert out.shape == (2, 28, 28, 32)
    assert [l._mode for l in layer.id_layers] == ["pool", "pool", "identity", "identity"]
    assert layer.projection.kernel.shape == (1, 1, 384, 32)


def test_projection_equals_the_1x1_convolution_of_the_concatenation():
    """`project` sums one matrix product per map instead of concatenating:
    the same linear map as the Conv2D on the concatenated maps."""
    rng = np.random.default_rng(0)
    maps = [rng.normal(size=(2, 8, 8, 16)).astype("float32"),
            rng.normal(size=(2, 16, 16, 8)).astype("float32"),
            rng.normal(size=(2, 8, 8, 4)).astype("float32")]
    layer = KnowledgeAggregation(filters=6, target_size=(8, 8))
    layer.build([m.shape for m in maps])
    merged = layer.merge(maps)
    expected = layer.projection(keras.ops.concatenate(merged, -1))
    np.testing.assert_allclose(layer._projection(merged), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.project(merged, training=False),
                               layer.batch_norm(expected, training=False), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="32 channels; the projection takes 28"):
        layer._projection(merged + [merged[2]])


@pytest.mark.parametrize("update_statistics", [True, False])
def test_normalize_matches_the_keras_batch_norm_layer(update_statistics):
    """`normalize` in training mode gives the Keras layer's outputs,
    gradients and moving statistics (its `update_statistics=False` branch
    computes the batch norm in ops); `update_statistics=False` leaves the
    statistics where they were."""
    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(2.0, 3.0, size=(4, 5, 5, 6)).astype("float32"))
    layer = KnowledgeAggregation(filters=6, target_size=(5, 5), momentum=0.8)
    layer.build([x.shape])
    bn = layer.batch_norm
    bn.gamma.assign(rng.normal(size=6).astype("float32"))
    bn.beta.assign(rng.normal(size=6).astype("float32"))
    reference = keras.layers.BatchNormalization(momentum=0.8)
    reference.build(x.shape)
    reference.set_weights(bn.get_weights())
    upstream = tf.constant(rng.normal(size=x.shape).astype("float32"))

    def grads(fn, variables):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
            loss = tf.reduce_sum(y * upstream)
        return y, tape.gradient(loss, [x, *variables])

    y, got = grads(lambda v: layer.normalize(v, True, update_statistics), [bn.gamma, bn.beta])
    y_ref, want = grads(lambda v: reference(v, training=True), [reference.gamma, reference.beta])
    np.testing.assert_allclose(y, y_ref, rtol=1e-4, atol=1e-4)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)
    if update_statistics:
        np.testing.assert_allclose(bn.moving_mean, reference.moving_mean, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(bn.moving_variance, reference.moving_variance, rtol=1e-5)
    else:
        np.testing.assert_array_equal(bn.moving_mean, np.zeros(6))
        np.testing.assert_array_equal(bn.moving_variance, np.ones(6))
    np.testing.assert_allclose(layer.normalize(x, training=False),
                               bn(x, training=False), rtol=1e-6)


def test_aggregation_config_round_trip_and_keras_file(tmp_path):
    layer = KnowledgeAggregation(filters=5, target_size=(4, 4), momentum=0.8)
    clone = KnowledgeAggregation.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()

    a = keras.Input((8, 8, 3))
    b = keras.Input((4, 4, 6))
    out = KnowledgeAggregation(filters=5, target_size=(4, 4), name="agg")([a, b])
    model = keras.Model([a, b], out)
    data = [np.random.rand(2, 8, 8, 3).astype("float32"),
            np.random.rand(2, 4, 4, 6).astype("float32")]
    path = tmp_path / "agg.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(data, verbose=0),
                               model.predict(data, verbose=0), atol=1e-6)

    id_model = keras.Sequential([keras.Input((8, 8, 2)), IdentityMapping((4, 4))])
    id_model.save(tmp_path / "id.keras")
    assert keras.models.load_model(tmp_path / "id.keras").layers[0].target_size == (4, 4)
