"""CIFAR-10/100 and ImageNet pipelines under `tfds.testing.mock_data`."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from conftest import MOCK_EXAMPLES, batches

import kr_keras
from kr_keras.data import cifar, imagenet


def raw_split(name, split):
    ds = tfds.builder(name).as_dataset(split=split, as_supervised=True, shuffle_files=False)
    x, y = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    return np.stack(x), np.array(y)


@pytest.mark.parametrize(
    "name,num_classes,mean,std",
    [("cifar10", 10, cifar.CIFAR10_MEAN, cifar.CIFAR10_STD),
     ("cifar100", 100, cifar.CIFAR100_MEAN, cifar.CIFAR100_STD)],
)
def test_cifar_test_split_is_standardised_raw_data(mock_tfds, name, num_classes, mean, std):
    ds = kr_keras.data.load(name, "test", batch_size=5)
    x, y = batches(ds)
    raw_x, raw_y = raw_split(name, "test")
    assert x.dtype == np.float32 and y.dtype == np.int32
    assert x.shape == (MOCK_EXAMPLES, 32, 32, 3)  # remainder kept: 5+5+5+1
    expected = (raw_x / 255.0 - np.array(mean)) / np.array(std)
    np.testing.assert_allclose(x, expected, atol=1e-5)
    np.testing.assert_array_equal(y, raw_y)
    assert kr_keras.data.info(name).num_classes == num_classes


def test_cifar_train_is_augmented_batched_and_seeded(mock_tfds):
    load = lambda **kw: batches(kr_keras.data.load("cifar10", "train", batch_size=5, **kw))
    aug_x, aug_y = load(shuffle=False)
    clean_x, clean_y = load(shuffle=False, augment=False)
    assert aug_x.shape == (16, 32, 32, 3)  # unshuffled: not a training pipeline, all kept
    assert load()[0].shape == (15, 32, 32, 3)  # training pipeline: partial batch dropped
    np.testing.assert_array_equal(aug_y, clean_y)
    changed = [not np.allclose(a, c) for a, c in zip(aug_x, clean_x)]
    assert sum(changed) >= 10
    # Zero padding is black: the smallest value is -mean/std of a channel.
    assert np.isclose(aug_x.min(), min(-m / s for m, s in zip(cifar.CIFAR10_MEAN, cifar.CIFAR10_STD)), atol=1e-5)
    first, second = load(seed=3), load(seed=3)
    np.testing.assert_array_equal(first[0], second[0])
    assert not np.array_equal(load(seed=4)[0], first[0])


def test_training_epochs_differ_but_runs_repeat(mock_tfds):
    ds = kr_keras.data.load("cifar10", "train", batch_size=4, seed=1)
    epoch1, epoch2 = batches(ds), batches(ds)
    assert not np.array_equal(epoch1[0], epoch2[0])
    ds_again = kr_keras.data.load("cifar10", "train", batch_size=4, seed=1)
    np.testing.assert_array_equal(batches(ds_again)[0], epoch1[0])
    np.testing.assert_array_equal(batches(ds_again)[0], epoch2[0])


def test_imagenet_train_and_validation_shapes(mock_tfds):
    for split in ("train", "validation"):
        ds = kr_keras.data.load("imagenet2012", split, batch_size=4, data_dir=mock_tfds, take=8)
        x, y = batches(ds)
        assert x.shape == (8, 224, 224, 3) and x.dtype == np.float32
        assert y.dtype == np.int32 and np.all((y >= 0) & (y < 1000))
        assert np.all(np.isfinite(x))
    assert kr_keras.data.info("imagenet2012").image_shape == (224, 224, 3)


def test_imagenet_eval_transform_is_resize_then_center_crop():
    image = tf.reshape(tf.range(300 * 400 * 1, dtype=tf.float32), [300, 400, 1])
    out = kr_keras.data.augment.resize_center_crop(image)
    assert out.shape == (224, 224, 1)
    resized = tf.image.resize(image, [256, 341])
    np.testing.assert_allclose(out, resized[16:240, 58:282], rtol=1e-6)


def test_imagenet_missing_manual_files_names_them(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"ILSVRC2012_img_train\.tar.*downloads/manual"):
        kr_keras.data.load("imagenet2012", "train", batch_size=2, data_dir=str(tmp_path))
    assert imagenet.manual_dir(tmp_path) == str(tmp_path / "downloads" / "manual")
