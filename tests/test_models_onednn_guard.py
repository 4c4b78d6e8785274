"""The strided 1x1 convolution that corrupts memory under oneDNN on AVX-512
CPUs: `Subsample2D` + a stride-1 conv is the same map (exact, where the
strided op runs), the ResNets use it, and user models get a warning."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from kr_keras.layers import Subsample2D
from kr_keras.models import cifar_resnet
from kr_keras.models import imagenet_resnet
from kr_keras.models import onednn_guard
from kr_keras.models import strided_pointwise_convs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# 16 input channels: the strided op runs on every CPU, so it is the reference.
@pytest.mark.parametrize("size,stride", [(7, 2), (8, 2), (9, 3), (12, 2)])
def test_subsample_then_pointwise_equals_strided_pointwise(size, stride):
    rng = np.random.default_rng(size)
    x = tf.constant(rng.normal(size=(2, size, size, 16)), tf.float32)
    w = tf.Variable(rng.normal(size=(1, 1, 16, 8)), dtype=tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        strided = tf.nn.conv2d(x, w, strides=stride, padding="SAME")
        ours = tf.nn.conv2d(Subsample2D(stride)(x), w, strides=1, padding="SAME")
        strided_loss = tf.reduce_sum(tf.sin(strided))
        our_loss = tf.reduce_sum(tf.sin(ours))
    np.testing.assert_allclose(ours.numpy(), strided.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tape.gradient(our_loss, w).numpy(),
                               tape.gradient(strided_loss, w).numpy(), rtol=1e-4, atol=1e-4)


def test_subsample_config_round_trip_and_shape():
    layer = Subsample2D(3, name="s")
    again = Subsample2D.from_config(layer.get_config())
    assert again.stride == 3
    assert again.compute_output_shape((None, 7, 9, 2)) == (None, 3, 3, 2)
    with pytest.raises(ValueError, match="stride"):
        Subsample2D(0)


def test_resnets_have_no_strided_pointwise_conv():
    assert strided_pointwise_convs(cifar_resnet(8, 0.25, input_shape=(32, 32, 3))) == []
    assert strided_pointwise_convs(imagenet_resnet(18, 0.0625, input_shape=(64, 64, 3))) == []
    model = cifar_resnet(8, 0.25, input_shape=(32, 32, 3))
    assert isinstance(model.get_layer("stage2_block1_proj_subsample"), Subsample2D)
    assert model.get_layer("stage2_block1_proj").strides == (1, 1)


def test_user_model_with_the_op_gets_a_warning_naming_the_fix(monkeypatch):
    x = keras.Input((32, 32, 4))
    y = keras.layers.Conv2D(8, 1, strides=2, name="proj")(x)
    wide = keras.layers.Conv2D(8, 1, strides=2, name="wide")(keras.layers.Conv2D(16, 3)(x))
    model = keras.Model(x, [y, wide])
    assert strided_pointwise_convs(model) == ["proj"]
    monkeypatch.setattr(onednn_guard, "onednn_on_avx512", lambda: True)
    with pytest.warns(UserWarning, match="Subsample2D.*TF_ENABLE_ONEDNN_OPTS=0"):
        onednn_guard.warn_strided_pointwise(model, "student")
    monkeypatch.setattr(onednn_guard, "onednn_on_avx512", lambda: False)
    assert onednn_guard.warn_strided_pointwise(model) == ["proj"]  # no warning


def test_onednn_switch_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert onednn_guard.onednn_on_avx512() is False


def test_thin_resnet_on_large_images_fits_in_a_fresh_process():
    # The reduced crash of the issue: width 0.25 (4 channels) at 112x112
    # aborted with heap corruption inside fit on AVX-512 CPUs with oneDNN.
    script = textwrap.dedent("""
        import keras, numpy as np, kr_keras
        model = kr_keras.models.cifar_resnet(8, width_multiplier=0.25, input_shape=(112, 112, 3))
        model.compile(keras.optimizers.SGD(0.01),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        rng = np.random.default_rng(0)
        history = model.fit(rng.normal(size=(8, 112, 112, 3)).astype("float32"),
                            rng.integers(0, 10, 8), batch_size=4, epochs=1, verbose=0)
        print("loss", history.history["loss"][-1])
    """)
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                             text=True, timeout=300)
    assert process.returncode == 0, (process.returncode, process.stderr[-3000:])
    assert process.stdout.startswith("loss"), process.stdout
