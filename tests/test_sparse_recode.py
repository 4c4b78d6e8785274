"""Tests of `kr_keras.ops.sparse_recode` against hand-computed gradients."""

import numpy as np
import tensorflow as tf

from experiments.lib.regularization import srp_penalty_curve
from kr_keras.ops import recoding_alignment
from kr_keras.ops import sparse_recode


def _grads(x, residual, tau, upstream, **kwargs):
    x = tf.constant(x, tf.float32)
    tau = tf.constant(tau, tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, tau])
        r = tf.constant(residual, tf.float32)
        tape.watch(r)
        y = sparse_recode(x, r, tau, **kwargs)
        loss = tf.reduce_sum(y * tf.constant(upstream, tf.float32))
    return y, tape.gradient(loss, x), tape.gradient(loss, tau), tape.gradient(loss, r)


def test_forward_is_identity():
    x = np.random.default_rng(0).normal(size=(2, 3, 3, 4)).astype("float32")
    y, *_ = _grads(x, x, 0.3, np.ones_like(x))
    np.testing.assert_array_equal(y.numpy(), x)


def test_gradient_boost_floor_hand_computed():
    x = [1.0, -2.0, 0.1, 0.4]
    residual = [0.9, -0.2, 0.05, -1.5]  # |r| > 0.5 at indices 0 and 3
    upstream = [1.0, 2.0, 3.0, -4.0]
    _, dx, dtau, dr = _grads(x, residual, 0.5, upstream, boost=3.0, floor=0.25)
    np.testing.assert_allclose(dx.numpy(), [3.0, 0.5, 0.75, -12.0])
    # The threshold rule (`track_threshold`) moves tau; no gradient does.
    assert dtau is None and dr is None


def test_default_floor_filters_small_residuals():
    _, dx, _, _ = _grads([1.0, 1.0], [0.1, 2.0], 1.0, [1.0, 1.0])
    np.testing.assert_allclose(dx.numpy(), [0.0, 2.0])


def test_gradient_dtype_follows_upstream_under_float16():
    x = tf.constant([1.0, 0.01], tf.float16)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = sparse_recode(x, tf.cast(x, tf.float32), tf.constant(0.5))
        loss = tf.reduce_sum(y)
    dx = tape.gradient(loss, x)
    assert dx.dtype == tf.float16
    np.testing.assert_allclose(dx.numpy(), [2.0, 0.0])


def test_penalty_curve():
    r = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    np.testing.assert_allclose(
        srp_penalty_curve(r, tau=1.0, boost=2.0), [3.0, 0.0, 0.0, 0.0, 3.0]
    )


def test_recoding_alignment_against_numpy():
    rng = np.random.default_rng(0)
    parts = [rng.normal(size=(3, 4)).astype("float32"), rng.normal(size=(5,)).astype("float32")]
    masks = [rng.random(p.shape) > 0.4 for p in parts]
    cosine, ratio = recoding_alignment([tf.constant(p) for p in parts],
                                       [tf.constant(m) for m in masks], boost=3.0, floor=0.5)
    dense = np.concatenate([p.ravel() for p in parts])
    recoded = dense * np.where(np.concatenate([m.ravel() for m in masks]), 3.0, 0.5)
    np.testing.assert_allclose(float(ratio), np.linalg.norm(recoded) / np.linalg.norm(dense),
                               rtol=1e-5)
    np.testing.assert_allclose(float(cosine), dense @ recoded / (
        np.linalg.norm(dense) * np.linalg.norm(recoded)), rtol=1e-5)
    # A uniform factor is a pure rescaling.
    cosine, ratio = recoding_alignment(tf.constant(parts[0]), tf.ones([3, 4], tf.bool))
    np.testing.assert_allclose([float(cosine), float(ratio)], [1.0, 2.0], rtol=1e-5)
