"""Precise batch norm: `recompute_batch_norm_statistics` and `PreciseBatchNorm`.

The reference statistics are computed independently: a tapped model returns
every BN layer's input in training mode (upstream BN layers on batch
statistics), and numpy averages each batch's mean and (biased) variance
over the channels' reduction axes.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kr_keras.callbacks import PreciseBatchNorm, recompute_batch_norm_statistics


def _block(channels, name):
    """A nested functional sub-model: conv -> BN -> ReLU."""
    inputs = keras.Input((None, None, 4))
    x = keras.layers.Conv2D(channels, 3, padding="same", name=f"{name}_conv")(inputs)
    x = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return keras.Model(inputs, keras.layers.ReLU()(x), name=name)


def _model(seed=0):
    """Outer BN, a nested model with its own BN, and a dense BN head."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv0")(inputs)
    x = keras.layers.BatchNormalization(momentum=0.99, name="bn0")(x)
    x = keras.layers.ReLU()(x)
    x = _block(4, "inner")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(5, name="fc")(x)
    x = keras.layers.BatchNormalization(momentum=0.5, name="bn_fc")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="logits")(x))


def _reference(model, batches):
    """{bn name: (mean, var)}: batch-size-weighted averages of each batch's
    moments of the BN inputs, from an independently rebuilt tapped graph."""
    def bn_inputs(x):
        # Re-run the graph by hand, layer by layer, in training mode
        # (the BN layers' moving statistics are not read in training mode).
        taps = {}
        outer = model
        h = x
        for layer in outer.layers[1:]:
            if isinstance(layer, keras.Model):
                for inner in layer.layers[1:]:
                    if isinstance(inner, keras.layers.BatchNormalization):
                        taps[inner.name] = h.numpy()
                    h = inner(h, training=True)
            else:
                if isinstance(layer, keras.layers.BatchNormalization):
                    taps[layer.name] = h.numpy()
                h = layer(h, training=True)
        return taps

    saved = [v.numpy() for v in model.non_trainable_variables]
    sums, count = {}, 0
    for x in batches:
        for name, t in bn_inputs(tf.constant(x)).items():
            axes = tuple(range(t.ndim - 1))
            t = t.astype(np.float64)
            mean = t.mean(axis=axes)
            var = ((t - mean) ** 2).mean(axis=axes)
            m, v = sums.get(name, (0.0, 0.0))
            sums[name] = (m + len(x) * mean, v + len(x) * var)
        count += len(x)
    for v, value in zip(model.non_trainable_variables, saved):
        v.assign(value)
    return {name: (m / count, v / count) for name, (m, v) in sums.items()}


def _bn_layers(model):
    return {l.name: l for l in model._flatten_layers(recursive=True)
            if isinstance(l, keras.layers.BatchNormalization)}


def _train_a_little(model, x, y):
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)


def test_statistics_are_the_exact_average_of_batch_moments():
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, (40, 6, 6, 3)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    model = _model()
    _train_a_little(model, x, y)
    bns = _bn_layers(model)
    assert set(bns) == {"bn0", "inner_bn", "bn_fc"}
    before_weights = [w.numpy() for w in model.trainable_weights]
    momenta = {name: l.momentum for name, l in bns.items()}
    before_stats = {name: l.moving_mean.numpy() for name, l in bns.items()}

    # Batches of 8, 8 and a last one cut to 4 by num_samples=20.
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    used = recompute_batch_norm_statistics(model, ds, num_samples=20)

    assert used == 20
    reference = _reference(model, [x[:8], x[8:16], x[16:20]])
    for name, layer in bns.items():
        mean, var = reference[name]
        np.testing.assert_allclose(layer.moving_mean.numpy(), mean, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(layer.moving_variance.numpy(), var, rtol=1e-4, atol=1e-5)
        assert not np.allclose(layer.moving_mean.numpy(), before_stats[name])
        assert layer.momentum == momenta[name]
    for w, before in zip(model.trainable_weights, before_weights):
        np.testing.assert_array_equal(w.numpy(), before)


def test_single_batch_equals_numpy_moments_of_the_first_bn_input():
    # The first BN's input is conv0(x): an independent numpy reference.
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 6, 6, 3)).astype(np.float32)
    model = _model()
    conv = model.get_layer("conv0")
    t = keras.Model(model.inputs, conv.output)(x).numpy().astype(np.float64)
    recompute_batch_norm_statistics(model, [x], num_samples=16)   # x-only batches
    bn = model.get_layer("bn0")
    np.testing.assert_allclose(bn.moving_mean.numpy(), t.mean((0, 1, 2)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.numpy(), t.var((0, 1, 2)), rtol=1e-4,
                               atol=1e-6)


def test_independent_of_momentum_and_of_previous_statistics():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(24, 6, 6, 3)).astype(np.float32)
    a, b = _model(), _model()
    for layer in _bn_layers(b).values():
        layer.momentum = 0.0001
        layer.moving_mean.assign(np.full(layer.moving_mean.shape, np.nan, np.float32))
    recompute_batch_norm_statistics(a, [x[:8], x[8:16], x[16:]])
    recompute_batch_norm_statistics(b, [(x[:8],), (x[8:16],), (x[16:],)])
    for name, layer in _bn_layers(a).items():
        other = _bn_layers(b)[name]
        np.testing.assert_allclose(layer.moving_mean.numpy(), other.moving_mean.numpy(),
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(layer.moving_variance.numpy(),
                                   other.moving_variance.numpy(), rtol=1e-5, atol=1e-6)
    assert _bn_layers(b)["bn0"].momentum == 0.0001


def test_mobilenet_v2_every_bn_layer_is_reestimated():
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, weights=None,
                                           classes=4)
    bns = _bn_layers(model)
    x = np.random.default_rng(3).normal(size=(4, 32, 32, 3)).astype(np.float32)
    recompute_batch_norm_statistics(model, [x], num_samples=4)
    # The initial statistics are (0, 1); every layer moved off them.
    moved = [n for n, l in bns.items() if not np.allclose(l.moving_mean.numpy(), 0.0)]
    assert len(bns) > 30 and len(moved) == len(bns)
    # The first BN's input is the stem conv: compare with its batch moments.
    conv = keras.Model(model.inputs, model.get_layer("Conv1").output)(x).numpy()
    np.testing.assert_allclose(model.get_layer("bn_Conv1").moving_mean.numpy(),
                               conv.mean((0, 1, 2)), rtol=1e-4, atol=1e-5)


def test_frozen_bn_layers_are_left_alone():
    model = _model()
    bn = model.get_layer("bn0")
    bn.trainable = False
    bn.moving_mean.assign(np.full(4, 7.0, np.float32))
    recompute_batch_norm_statistics(model, [np.ones((4, 6, 6, 3), np.float32)])
    np.testing.assert_array_equal(bn.moving_mean.numpy(), np.full(4, 7.0))


@pytest.mark.parametrize("num_samples", [0, -3, 2.5, True])
def test_bad_num_samples(num_samples):
    with pytest.raises(ValueError, match="Received: num_samples="):
        recompute_batch_norm_statistics(_model(), [np.zeros((2, 6, 6, 3), np.float32)],
                                        num_samples)
    with pytest.raises(ValueError, match="Received: num_samples="):
        PreciseBatchNorm([], num_samples)


def test_empty_dataset_restores_statistics():
    model = _model()
    bn = model.get_layer("bn0")
    bn.moving_mean.assign(np.full(4, 3.0, np.float32))
    with pytest.raises(ValueError, match="no images"):
        recompute_batch_norm_statistics(model, [])
    np.testing.assert_array_equal(bn.moving_mean.numpy(), np.full(4, 3.0))
    assert bn.momentum == 0.99


class _Recorder(keras.callbacks.Callback):
    """Records bn0's moving mean when validation starts (after PreciseBN)."""

    def __init__(self):
        super().__init__()
        self.at_validation = []

    def on_test_begin(self, logs=None):
        self.at_validation.append(self.model.get_layer("bn0").moving_mean.numpy().copy())


def test_callback_validation_and_evaluate_see_reestimated_statistics():
    rng = np.random.default_rng(4)
    x = rng.normal(1.0, 2.0, (32, 6, 6, 3)).astype(np.float32)
    y = rng.integers(0, 3, 32)
    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    model = _model()
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    recorder = _Recorder()
    callback = PreciseBatchNorm(train, num_samples=16)
    # The recorder comes after PreciseBN: it sees what validation uses.
    model.fit(train, epochs=2, validation_data=train, callbacks=[callback, recorder],
              verbose=0)
    assert len(recorder.at_validation) == 2
    reference = _reference(model, [x[:8], x[8:16]])
    np.testing.assert_allclose(recorder.at_validation[-1], reference["bn0"][0], rtol=1e-4,
                               atol=1e-5)
    for name, layer in _bn_layers(model).items():
        np.testing.assert_allclose(layer.moving_mean.numpy(), reference[name][0], rtol=1e-4,
                                   atol=1e-5)
        np.testing.assert_allclose(layer.moving_variance.numpy(), reference[name][1],
                                   rtol=1e-4, atol=1e-5)
    # `evaluate` after `fit` uses them: equal to a manual inference pass.
    loss = model.evaluate(x, y, batch_size=32, verbose=0)
    logits = model(x, training=False)
    expected = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, logits)
    np.testing.assert_allclose(loss, float(expected), rtol=1e-5)


def test_callback_without_validation_and_only_at_the_end():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(16, 6, 6, 3)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    calls = []

    class Counting(PreciseBatchNorm):
        def recompute(self):
            calls.append(self.model.optimizer.iterations.numpy())
            return super().recompute()

    model = _model()
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(train, epochs=3, callbacks=[Counting(train, 16)], verbose=0)
    assert calls == [2, 4, 6]   # each epoch end, none again at train end
    calls.clear()
    model.fit(train, epochs=3, validation_data=train,
              callbacks=[Counting(train, 16, every_epoch=False)], verbose=0)
    assert calls == [12]        # only at the end of training
    reference = _reference(model, [x[:8], x[8:16]])
    np.testing.assert_allclose(model.get_layer("bn_fc").moving_variance.numpy(),
                               reference["bn_fc"][1], rtol=1e-4, atol=1e-5)


def test_callback_targets_a_distillers_student():
    class Wrapper(keras.Model):
        def __init__(self, student):
            super().__init__()
            self.student = student

        def call(self, x, training=None):
            return self.student(x, training=training)

    rng = np.random.default_rng(6)
    x = rng.normal(size=(16, 6, 6, 3)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    student = _model()
    wrapper = Wrapper(student)
    wrapper.compile(optimizer=keras.optimizers.SGD(0.1),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    wrapper.fit(train, epochs=1, callbacks=[PreciseBatchNorm(train, 16)], verbose=0)
    reference = _reference(student, [x[:8], x[8:16]])
    np.testing.assert_allclose(student.get_layer("inner").get_layer("inner_bn")
                               .moving_mean.numpy(), reference["inner_bn"][0], rtol=1e-4,
                               atol=1e-5)
