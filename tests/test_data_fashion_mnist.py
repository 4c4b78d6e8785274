"""Fashion-MNIST from the real IDX files, the IDX reader, and the TFDS fallback."""

import gzip

import numpy as np
import pytest
from conftest import batches

import kr_keras
from kr_keras.data import fashion_mnist
from kr_keras.data.idx import read_idx


def write_idx(path, array, compress=True):
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def test_info_without_loading():
    info = kr_keras.data.info("fashion_mnist")
    assert info == kr_keras.data.DatasetInfo("fashion_mnist", (28, 28, 1), 10, {"train": 60000, "test": 10000})
    with pytest.raises(AttributeError):
        info.num_classes = 3


@pytest.mark.skipif(fashion_mnist.find_idx_dir() is None, reason="dataset-fashion-mnist not installed")
def test_real_idx_files():
    images, labels = fashion_mnist.read_split(fashion_mnist.IDX_DIR, "test")
    assert images.shape == (10000, 28, 28, 1) and labels.shape == (10000,)
    ds = kr_keras.data.load("fashion_mnist", "test", batch_size=64, take=1000)
    x, y = batches(ds)
    assert x.shape == (1000, 28, 28, 1) and x.dtype == np.float32 and y.dtype == np.int32
    np.testing.assert_allclose(x[0], (images[0] / 255.0 - 0.2860) / 0.3530, atol=1e-5)
    np.testing.assert_array_equal(y, labels[:1000])
    assert set(np.unique(y)) == set(range(10))
    assert abs(x.mean()) < 0.1 and abs(x.std() - 1.0) < 0.1

    x_train, y_train = batches(kr_keras.data.load("fashion_mnist", "train", batch_size=32, take=100))
    assert x_train.shape == (96, 28, 28, 1)  # 3 full batches, remainder dropped
    assert np.all((y_train >= 0) & (y_train < 10))


def test_read_idx_plain_and_gzip(tmp_path):
    array = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "a.gz", array)), array)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "a", array, compress=False), 3), array)


def test_read_idx_rejects_corrupt_files(tmp_path):
    good = write_idx(tmp_path / "good", np.zeros((2, 3, 4)), compress=False).read_bytes()
    (tmp_path / "magic").write_bytes(b"\x01\x02" + good[2:])
    with pytest.raises(ValueError, match="Not an IDX file.*magic="):
        read_idx(tmp_path / "magic")
    (tmp_path / "short").write_bytes(good[:-5])
    with pytest.raises(ValueError, match="does not match its header shape"):
        read_idx(tmp_path / "short")
    (tmp_path / "broken.gz").write_bytes(gzip.compress(good)[:30])
    with pytest.raises(ValueError, match="Corrupt gzip"):
        read_idx(tmp_path / "broken.gz")
    with pytest.raises(ValueError, match="has 3 dimensions, expected 1"):
        read_idx(tmp_path / "good", expected_ndim=1)
    with pytest.raises(FileNotFoundError, match="Received: path="):
        read_idx(tmp_path / "absent")


def fake_fashion_dir(root, n=6, seed=0):
    rng = np.random.default_rng(seed)
    for split, (img, lab) in fashion_mnist.FILES.items():
        write_idx(root / img, rng.integers(0, 256, (n, 28, 28)))
        write_idx(root / lab, rng.integers(0, 10, (n,)))
    return root


def test_data_dir_with_idx_files_is_used(tmp_path):
    root = fake_fashion_dir(tmp_path)
    _, y = batches(kr_keras.data.load("fashion_mnist", "test", batch_size=4, data_dir=str(root)))
    np.testing.assert_array_equal(y, read_idx(root / "t10k-labels-idx1-ubyte.gz"))


def test_bad_labels_in_idx(tmp_path):
    root = fake_fashion_dir(tmp_path)
    write_idx(root / "t10k-labels-idx1-ubyte.gz", np.array([0, 1, 2, 3, 4, 12]))
    with pytest.raises(ValueError, match=r"\[0, 10\).*max label=12"):
        kr_keras.data.load("fashion_mnist", "test", batch_size=4, data_dir=str(root))


def test_falls_back_to_tfds_without_idx_files(tmp_path, monkeypatch, mock_tfds):
    monkeypatch.setattr(fashion_mnist, "IDX_DIR", str(tmp_path / "nowhere"))
    x, y = batches(kr_keras.data.load("fashion_mnist", "test", batch_size=4))
    assert x.shape == (16, 28, 28, 1) and np.all((y >= 0) & (y < 10))
