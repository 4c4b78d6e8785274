"""Fashion-MNIST (Xiao et al., 2017): 60k/10k 28x28x1 images, 10 classes.

Read from the gzip IDX files of Debian's `dataset-fashion-mnist` (`IDX_DIR`)
or `data_dir`, else through `tfds.load("fashion_mnist")`.
"""

import functools
import os

import numpy as np
import tensorflow as tf

from kr_keras.data import augment
from kr_keras.data.dataset_info import DatasetInfo
from kr_keras.data.idx import read_idx
from kr_keras.data.source import DatasetBuilder, Source, tfds_examples

IDX_DIR = "/usr/share/datasets/fashion-mnist"
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
MEAN = (0.2860,)
STD = (0.3530,)
PAD = 2
NUM_CLASSES = 10


def find_idx_dir(data_dir=None):
    """The first of `data_dir`, `IDX_DIR` that holds all four IDX files, or `None`."""
    for d in (data_dir, IDX_DIR):
        if d is not None and all(
            os.path.exists(os.path.join(d, f)) for pair in FILES.values() for f in pair
        ):
            return os.fspath(d)
    return None


@functools.lru_cache(maxsize=4)
def read_split(idx_dir, split):
    """Reads one split from IDX files: `(uint8 [N, 28, 28, 1], uint8 [N])`."""
    image_file, label_file = (os.path.join(idx_dir, f) for f in FILES[split])
    images = read_idx(image_file, expected_ndim=3)
    labels = read_idx(label_file, expected_ndim=1)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{image_file!r} and {label_file!r} disagree on the number of examples. "
            f"Received: images={images.shape[0]}, labels={labels.shape[0]}"
        )
    if labels.size and int(labels.max()) >= NUM_CLASSES:
        raise ValueError(
            f"Labels must lie in [0, {NUM_CLASSES}). Received: max label={int(labels.max())} "
            f"in {label_file!r}"
        )
    images = images[..., np.newaxis]
    images.flags.writeable = False
    return images, labels


class FashionMnist(DatasetBuilder):
    """Builder for `"fashion_mnist"` (splits `"train"` and `"test"`)."""

    name = "fashion_mnist"

    def info(self):
        return DatasetInfo(self.name, (28, 28, 1), NUM_CLASSES, {"train": 60_000, "test": 10_000})

    def source(self, split, data_dir=None):
        idx_dir = find_idx_dir(data_dir)
        if idx_dir is not None:
            examples = tf.data.Dataset.from_tensor_slices(read_split(idx_dir, split))
        else:
            examples = tfds_examples("fashion_mnist", split, data_dir)
        return Source(
            examples=examples,
            mean=MEAN,
            std=STD,
            train_transform=functools.partial(augment.pad_crop_flip, pad=PAD),
            cache=idx_dir is None,  # The IDX arrays are already in memory.
            shuffle_buffer=60_000,
        )
