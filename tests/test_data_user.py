"""`npz:` and `dir:` datasets: round trips and their errors."""

import os

import numpy as np
import pytest
import tensorflow as tf
from conftest import batches

import kr_keras


def make_npz(path, shape=(8, 8, 3), n_train=20, n_test=6, classes=4, seed=0, **overrides):
    rng = np.random.default_rng(seed)
    arrays = dict(
        x_train=rng.integers(0, 256, (n_train,) + shape, dtype=np.uint8),
        y_train=rng.integers(0, classes, n_train),
        x_test=rng.integers(0, 256, (n_test,) + shape, dtype=np.uint8),
        y_test=rng.integers(0, classes, n_test),
    )
    arrays.update(overrides)
    np.savez(path, **arrays)
    return arrays


def test_npz_round_trip(tmp_path):
    arrays = make_npz(tmp_path / "d.npz")
    name = f"npz:{tmp_path / 'd.npz'}"
    info = kr_keras.data.info(name)
    assert (info.image_shape, info.num_classes, info.split_sizes) == ((8, 8, 3), 4, {"train": 20, "test": 6})
    x, y = batches(kr_keras.data.load(name, "test", batch_size=4))
    train = arrays["x_train"] / 255.0
    expected = (arrays["x_test"] / 255.0 - train.mean((0, 1, 2))) / train.std((0, 1, 2))
    np.testing.assert_allclose(x, expected, atol=1e-5)
    np.testing.assert_array_equal(y, arrays["y_test"])
    x_train, _ = batches(kr_keras.data.load(name, "train", batch_size=4, shuffle=False, augment=False))
    np.testing.assert_allclose(x_train.mean((0, 1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(x_train.std((0, 1, 2)), 1.0, atol=1e-4)


def test_npz_grayscale_gets_a_channel_axis(tmp_path):
    make_npz(tmp_path / "g.npz", shape=(8, 8))
    x, _ = batches(kr_keras.data.load(f"npz:{tmp_path / 'g.npz'}", "train", batch_size=5))
    assert x.shape == (20, 8, 8, 1)


def write_png_dir(root, split, images_by_class):
    for cls, images in images_by_class.items():
        folder = root / split / cls
        folder.mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(images):
            tf.io.write_file(str(folder / f"{i:03d}.png"), tf.io.encode_png(image))


def test_dir_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    imgs = {c: [rng.integers(0, 256, (6, 5, 3), dtype=np.uint8) for _ in range(3)] for c in ("zebra", "ant")}
    write_png_dir(tmp_path, "train", imgs)
    write_png_dir(tmp_path, "test", imgs)
    name = f"dir:{tmp_path}"
    info = kr_keras.data.info(name)
    assert (info.image_shape, info.num_classes, info.split_sizes) == ((6, 5, 3), 2, {"train": 6, "test": 6})
    x, y = batches(kr_keras.data.load(name, "test", batch_size=4))
    raw = np.stack(imgs["ant"] + imgs["zebra"]) / 255.0  # sorted classes: ant=0, zebra=1
    np.testing.assert_array_equal(y, [0, 0, 0, 1, 1, 1])
    np.testing.assert_allclose(x, (raw - raw.mean((0, 1, 2))) / raw.std((0, 1, 2)), atol=1e-5)


def test_dir_errors(tmp_path):
    rng = np.random.default_rng(0)
    write_png_dir(tmp_path, "train", {"a": [rng.integers(0, 256, (6, 6, 1), dtype=np.uint8)]})
    write_png_dir(tmp_path, "test", {"b": [rng.integers(0, 256, (6, 6, 1), dtype=np.uint8)]})
    with pytest.raises(ValueError, match=r"same class folders.*Received: train classes=\['a'\]"):
        kr_keras.data.info(f"dir:{tmp_path}")
    os.rename(tmp_path / "test" / "b", tmp_path / "test" / "a")
    write_png_dir(tmp_path, "train", {"a": [rng.integers(0, 256, (7, 6, 1), dtype=np.uint8)] * 2})
    with pytest.raises(ValueError, match=r"mixed shapes.*Received: sizes \[\(6, 6\), \(7, 6\)\]"):
        kr_keras.data.load(f"dir:{tmp_path}", "train", batch_size=1)
    for f in os.listdir(tmp_path / "test" / "a"):
        os.remove(tmp_path / "test" / "a" / f)
    with pytest.raises(ValueError, match="'test' split is empty"):
        kr_keras.data.info(f"dir:{tmp_path}")
    with pytest.raises(FileNotFoundError, match=r"not found.*Received: path="):
        kr_keras.data.info(f"dir:{tmp_path / 'absent'}")


@pytest.mark.parametrize(
    "overrides,match",
    [
        (dict(y_test=np.array([0, 1, 2, 3, 4, -1])), r"\[0, 5\).*Received: label=-1 at index 5"),
        (dict(y_train=np.full(20, 7), num_classes=np.array(4)), r"\[0, 4\).*Received: label=7"),
        (dict(x_test=np.zeros((6, 9, 9, 3), np.uint8)), r"mixed shapes.*Received"),
        (dict(x_test=np.zeros((0, 8, 8, 3), np.uint8), y_test=np.zeros(0, int)), r"'test' split is empty"),
        (dict(x_train=np.zeros((20, 8, 8, 3), np.uint8)), r"constant.*Received: per-channel std"),
    ],
)
def test_npz_errors(tmp_path, overrides, match):
    make_npz(tmp_path / "bad.npz", **overrides)
    with pytest.raises(ValueError, match=match):
        kr_keras.data.load(f"npz:{tmp_path / 'bad.npz'}", "test", batch_size=2)


def test_check_numerics_catches_nan(tmp_path):
    x_test = np.full((6, 8, 8, 3), 100.0, np.float32)
    x_test[3, 0, 0, 0] = np.nan
    make_npz(tmp_path / "nan.npz", x_test=x_test)
    name = f"npz:{tmp_path / 'nan.npz'}"
    x, _ = batches(kr_keras.data.load(name, "test", batch_size=2))
    assert np.isnan(x).sum() == 1  # without the check the NaN passes through
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"NaN or Inf in the images of 'npz:.*' split 'test'"):
        batches(kr_keras.data.load(name, "test", batch_size=2, check_numerics=True))


def test_common_errors(tmp_path):
    with pytest.raises(ValueError, match=r"Known datasets: \[.*'cifar10'.*'npz:<path>'.*Received: name='mnist'"):
        kr_keras.data.load("mnist", "train", 8)
    with pytest.raises(ValueError, match=r"Known splits: \['test', 'train'\]. Received: split='valid'"):
        kr_keras.data.load("fashion_mnist", "valid", 8)
    with pytest.raises(ValueError, match=r"Received: batch_size=0"):
        kr_keras.data.load("fashion_mnist", "train", 0)
    with pytest.raises(ValueError, match=r"no batch.*Received: batch_size=32, take=10"):
        kr_keras.data.load("fashion_mnist", "train", 32, take=10)
    with pytest.raises(FileNotFoundError, match=r"npz file not found.*Received: path="):
        kr_keras.data.load(f"npz:{tmp_path / 'absent.npz'}", "train", 8)
