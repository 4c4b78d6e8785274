"""AT, NST and FSP losses against independent numpy references."""

import numpy as np
import pytest
import tensorflow as tf

from kr_keras.losses import at_loss
from kr_keras.losses import fsp_loss
from kr_keras.losses import fsp_matrix
from kr_keras.losses import nst_loss
from kr_keras.losses.spatial import pool_to

RNG = np.random.default_rng(0)


def np_pool(f, size):
    b, h, w, c = f.shape
    return f.reshape(b, size, h // size, size, w // size, c).mean(axis=(2, 4))


def np_match(a, b):
    size = min(a.shape[1], b.shape[1])
    return np_pool(a, size), np_pool(b, size)


def np_at(fs, ft, p=2):
    fs, ft = np_match(fs, ft)

    def att(f):
        a = (np.abs(f) ** p).mean(-1).reshape(f.shape[0], -1)
        return a / np.linalg.norm(a, axis=1, keepdims=True)

    return ((att(fs) - att(ft)) ** 2).mean()


def np_nst(fs, ft):
    fs, ft = np_match(fs, ft)

    def vec(f):
        v = f.transpose(0, 3, 1, 2).reshape(f.shape[0], f.shape[3], -1)
        return v / np.linalg.norm(v, axis=2, keepdims=True)

    s, t = vec(fs), vec(ft)
    k = lambda a, b: (np.einsum("bik,bjk->bij", a, b) ** 2).mean()  # noqa: E731
    return k(t, t) + k(s, s) - 2 * k(s, t)


def np_fsp(f1, f2):
    f1, f2 = np_match(f1, f2)
    return np.einsum("bhwi,bhwj->bij", f1, f2) / (f1.shape[1] * f1.shape[2])


def maps(*shapes):
    return [RNG.normal(size=s).astype("float32") for s in shapes]


def test_pool_to_matches_block_mean():
    (f,) = maps((2, 8, 8, 3))
    np.testing.assert_allclose(pool_to(tf.constant(f), (4, 4)), np_pool(f, 4), rtol=1e-5)


@pytest.mark.parametrize("size, new", [((16, 16), (15, 15)), ((7, 5), (3, 2)), ((9, 8), (4, 4))])
def test_pool_to_is_adaptive_average_pooling_with_a_gradient(size, new):
    f = np.random.default_rng(0).normal(size=(2, *size, 3)).astype("float32")
    expected = np.zeros((2, *new, 3), np.float32)  # PyTorch's adaptive_avg_pool2d windows
    for i in range(new[0]):
        for j in range(new[1]):
            h0, h1 = i * size[0] // new[0], -(-(i + 1) * size[0] // new[0])
            w0, w1 = j * size[1] // new[1], -(-(j + 1) * size[1] // new[1])
            expected[:, i, j] = f[:, h0:h1, w0:w1].mean(axis=(1, 2))
    x = tf.constant(f)
    with tf.GradientTape() as tape:
        tape.watch(x)
        pooled = pool_to(x, new)
        total = tf.reduce_sum(pooled)
    np.testing.assert_allclose(pooled, expected, rtol=1e-5, atol=1e-6)
    gradient = tape.gradient(total, x)  # "area" resizing has none
    assert gradient is not None and np.all(np.isfinite(gradient))


@pytest.mark.parametrize("p", [2, 4])
def test_at_loss_matches_numpy_with_pooling(p):
    fs, ft = maps((3, 8, 8, 4), (3, 4, 4, 6))
    np.testing.assert_allclose(at_loss(fs, ft, p=p), np_at(fs, ft, p), rtol=1e-4)
    assert float(at_loss(fs, fs, p=p)) == 0.0


def test_nst_loss_matches_numpy_and_vanishes_on_equal_maps():
    fs, ft = maps((3, 4, 4, 5), (3, 8, 8, 7))
    np.testing.assert_allclose(nst_loss(fs, ft), np_nst(fs, ft), rtol=1e-4, atol=1e-6)
    assert abs(float(nst_loss(fs, fs))) < 1e-6
    assert float(nst_loss(fs, ft)) > 1e-3


def test_fsp_matrix_and_loss_match_numpy():
    s0, s1, t0, t1 = maps((2, 8, 8, 3), (2, 4, 4, 5), (2, 8, 8, 3), (2, 4, 4, 5))
    np.testing.assert_allclose(fsp_matrix(s0, s1), np_fsp(s0, s1), rtol=1e-4, atol=1e-6)
    expected = ((np_fsp(s0, s1) - np_fsp(t0, t1)) ** 2).mean()
    np.testing.assert_allclose(fsp_loss([s0, s1], [t0, t1]), expected, rtol=1e-4)
    assert float(fsp_loss([s0, s1], [s0, s1])) == 0.0


def test_fsp_channel_mismatch_names_the_fix():
    s0, s1, t1 = maps((2, 8, 8, 3), (2, 4, 4, 5), (2, 4, 4, 6))
    with pytest.raises(ValueError, match="channel count"):
        fsp_loss([s0, s1], [s0, t1])


@pytest.mark.parametrize("loss_fn", [at_loss, nst_loss,
                                     lambda s, t: fsp_loss([s, s], [t, t])])
def test_gradient_reaches_student_not_teacher(loss_fn):
    fs, ft = (tf.Variable(f) for f in maps((2, 4, 4, 3), (2, 4, 4, 3)))
    with tf.GradientTape(persistent=True) as tape:
        loss = loss_fn(fs, tf.stop_gradient(ft))
    grad = tape.gradient(loss, fs)
    assert grad is not None and float(tf.reduce_max(tf.abs(grad))) > 0
    assert tape.gradient(loss, ft) is None
