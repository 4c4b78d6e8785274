"""T-CIFAR100: fixed Gaussian distortion, statistics and determinism."""

import numpy as np
import pytest
from conftest import MOCK_EXAMPLES, batches

import kr_keras
from kr_keras.data import cifar, distortion

STD100 = np.array(cifar.CIFAR100_STD)


def clean_and_distorted(split="test", name="t_cifar100", clean="cifar100", **kw):
    opts = dict(batch_size=8, augment=False, shuffle=False)
    x_clean, _ = batches(kr_keras.data.load(clean, split, **opts))
    x_dist, _ = batches(kr_keras.data.load(name, split, **opts, **kw))
    return x_clean, x_dist


@pytest.mark.parametrize(
    "space,sigma,to_space",
    [("normalized", 1.0, lambda d: d),
     ("unit", 0.1, lambda d: d * STD100),
     ("pixel", 8.0, lambda d: d * STD100 * 255.0)],
)
def test_noise_statistics_in_its_space(mock_tfds, space, sigma, to_space):
    x_clean, x_dist = clean_and_distorted(distortion_sigma=sigma, distortion_space=space)
    noise = to_space(x_dist - x_clean)
    assert abs(noise.mean()) < 0.02 * sigma
    assert abs(noise.std() - sigma) < 0.02 * sigma


def test_default_is_sigma_one_normalized_on_train_and_test(mock_tfds):
    for split in ("train", "test"):
        x_clean, x_dist = clean_and_distorted(split)
        assert abs((x_dist - x_clean).std() - 1.0) < 0.02


def test_distortion_applies_to_other_datasets(mock_tfds):
    x_clean, x_dist = clean_and_distorted(name="cifar10", clean="cifar10", distortion_sigma=0.5)
    assert abs((x_dist - x_clean).std() - 0.5) < 0.01
    x_clean, x_zero = clean_and_distorted(distortion_sigma=0)
    np.testing.assert_array_equal(x_zero, x_clean)


def test_noise_is_fixed_across_calls_epochs_and_shuffling(mock_tfds):
    ds = kr_keras.data.load("t_cifar100", "test", batch_size=8, seed=5)
    first, second = batches(ds)[0], batches(ds)[0]
    np.testing.assert_array_equal(first, second)
    again = batches(kr_keras.data.load("t_cifar100", "test", batch_size=8, seed=5))[0]
    np.testing.assert_array_equal(first, again)
    other_seed = batches(kr_keras.data.load("t_cifar100", "test", batch_size=8, seed=6))[0]
    assert not np.allclose(first, other_seed)

    reference = batches(kr_keras.data.load("t_cifar100", "train", batch_size=8, shuffle=False, augment=False))[0]
    shuffled = kr_keras.data.load("t_cifar100", "train", batch_size=8, augment=False, shuffle=True)
    orders = []
    for _ in range(2):
        x = batches(shuffled)[0]
        dist = ((x[:, None] - reference[None]) ** 2).sum(axis=(2, 3, 4))
        assert np.allclose(dist.min(axis=1), 0.0)
        orders.append(dist.argmin(axis=1))
    assert sorted(orders[0]) == list(range(MOCK_EXAMPLES))
    assert not np.array_equal(orders[0], orders[1])


def test_train_and_test_noise_differ():
    import tensorflow as tf

    idx = tf.constant(0, tf.int64)
    assert not np.array_equal(distortion.image_seed(0, "train", idx), distortion.image_seed(0, "test", idx))
    assert not np.array_equal(distortion.image_seed(0, "train", idx), distortion.image_seed(0, "train", idx + 1))


def test_bad_distortion_arguments(mock_tfds):
    with pytest.raises(ValueError, match=r"distortion_space.*Received: distortion_space='raw'"):
        kr_keras.data.load("t_cifar100", "test", 4, distortion_space="raw")
    with pytest.raises(ValueError, match=r"distortion_sigma.*Received: distortion_sigma=-1"):
        kr_keras.data.load("t_cifar100", "test", 4, distortion_sigma=-1)
