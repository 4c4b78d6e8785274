"""User datasets: `"npz:<path>"` (arrays) and `"dir:<path>"` (image folders).

Their layout, labels and preprocessing: docs/data.md, "User data".
"""

import functools
import os
import struct
import zipfile

import keras
import numpy as np
import tensorflow as tf

from kr_keras.data import augment
from kr_keras.data.dataset_info import DatasetInfo
from kr_keras.data.source import DatasetBuilder, Source

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
SPLITS = ("train", "test")


def _require_path(path, what):
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what} not found; check the path. Received: path={path!r}")


def _channel_stats(batches):
    """Per-channel `(mean, std)` on the [0, 1] scale of an iterable of
    `[N, H, W, C]` image batches, one batch in memory at a time (NaNs left
    out); a constant or non-finite channel is an error."""
    count, total, total_sq = 0, 0.0, 0.0
    for x in batches:
        x = np.asarray(x, np.float64) / 255.0
        count = count + (~np.isnan(x)).sum(axis=(0, 1, 2))
        total = total + np.nansum(x, axis=(0, 1, 2))
        total_sq = total_sq + np.nansum(x**2, axis=(0, 1, 2))
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
    if np.any(~np.isfinite(std)) or np.any(std < 1e-6):
        raise ValueError(
            "The training images are constant (or not finite) in some channel, so they "
            f"cannot be standardised; check the data. Received: per-channel std={std.tolist()}"
        )
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)


def _npy_shape(archive, key):
    """Shape of `key` in an open `.npz` without reading its data."""
    with archive.open(key + ".npy") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(f)[0]
        return np.lib.format.read_array_header_2_0(f)[0]


class _UserData(DatasetBuilder):
    """Base of the builders of `"<prefix><path>"` datasets."""

    prefix = None

    def __init__(self, path):
        self.path = os.path.expanduser(path)
        self.name = self.prefix + path

    def _source(self, examples, stats, image_shape, cache, shuffle_buffer):
        pad = max(1, image_shape[0] // 8)
        return Source(examples=examples, mean=stats[0], std=stats[1],
                      train_transform=functools.partial(augment.pad_crop_flip, pad=pad),
                      cache=cache, shuffle_buffer=shuffle_buffer)


class Npz(_UserData):
    """Builder for `"npz:<path>"`."""

    prefix = "npz:"

    def _arrays(self):
        """The open `.npz` file (an `NpzFile`), checked to hold `NPZ_KEYS`."""
        _require_path(self.path, "npz file")
        try:
            arrays = np.load(self.path, allow_pickle=False)
        except (ValueError, EOFError, zipfile.BadZipFile):  # Not a zip: pickle, text, junk.
            arrays = None
        if not isinstance(arrays, np.lib.npyio.NpzFile):  # `.npy` files load as one array.
            raise ValueError(f"Not a valid .npz file. Received: path={self.path!r}")
        missing = [k for k in NPZ_KEYS if k not in arrays.files]
        if missing:
            raise ValueError(
                f"The npz file must hold arrays {NPZ_KEYS}; missing {missing}. "
                f"Received: path={self.path!r}, keys={sorted(arrays.files)}"
            )
        return arrays

    def _labels_and_classes(self, arrays):
        ys = {s: np.asarray(arrays["y_" + s]).reshape(-1) for s in SPLITS}
        for s, y in ys.items():
            if not np.issubdtype(y.dtype, np.integer):
                raise ValueError(f"Labels must be integers. Received: y_{s}.dtype={y.dtype}")
        if "num_classes" in arrays.files:
            num_classes = int(arrays["num_classes"])
        else:
            num_classes = int(max(int(y.max()) for y in ys.values() if y.size)) + 1
        for s, y in ys.items():
            bad = np.flatnonzero((y < 0) | (y >= num_classes))
            if bad.size:
                raise ValueError(
                    f"Labels must lie in [0, num_classes) = [0, {num_classes}) in y_{s} of "
                    f"{self.path!r}. Received: label={int(y[bad[0]])} at index {int(bad[0])}")
        return ys, num_classes

    def info(self):
        with self._arrays() as arrays:
            shapes = {s: _npy_shape(arrays.zip, "x_" + s) for s in SPLITS}
            _, num_classes = self._labels_and_classes(arrays)
        return DatasetInfo(self.name, self._image_shape(shapes), num_classes,
                           {s: shapes[s][0] for s in SPLITS})

    def _image_shape(self, shapes):
        per_split = {}
        for s, shape in shapes.items():
            if len(shape) not in (3, 4):
                raise ValueError(
                    f"x_{s} must be [N, H, W] or [N, H, W, C] images of one shape. "
                    f"Received: x_{s}.shape={shape} in {self.path!r}"
                )
            if shape[0] == 0:
                raise ValueError(f"The {s!r} split is empty. Received: x_{s}.shape={shape}")
            per_split[s] = tuple(shape[1:]) + ((1,) if len(shape) == 3 else ())
        if per_split["train"] != per_split["test"]:
            raise ValueError(
                "Images of mixed shapes: x_train and x_test must have the same image shape. "
                f"Received: {per_split}"
            )
        return per_split["train"]

    def source(self, split, data_dir=None):
        arrays = self._arrays()
        xs = {}
        for s in SPLITS:
            try:
                xs[s] = np.asarray(arrays["x_" + s])
            except ValueError as e:
                raise ValueError(
                    f"Images of mixed shapes in x_{s} (an object array) cannot be stacked; "
                    f"resize them to one shape first. Received: path={self.path!r} ({e})"
                ) from None
        image_shape = self._image_shape({s: x.shape for s, x in xs.items()})
        ys, _ = self._labels_and_classes(arrays)
        for s in SPLITS:
            if ys[s].shape[0] != xs[s].shape[0]:
                raise ValueError(
                    f"x_{s} and y_{s} disagree on the number of examples. "
                    f"Received: x_{s}.shape={xs[s].shape}, y_{s}.shape={ys[s].shape}"
                )
        stats = _channel_stats([xs["train"].reshape((-1,) + image_shape)])
        x = xs[split].reshape((-1,) + image_shape)
        if not np.issubdtype(x.dtype, np.floating):
            if x.size and (x.min() < 0 or x.max() > 255):
                raise ValueError(
                    f"Integer images must lie in [0, 255]. Received: x_{split} range "
                    f"[{x.min()}, {x.max()}]"
                )
            x = x.astype(np.uint8, copy=False)
        else:
            x = x.astype(np.float32, copy=False)
        examples = tf.data.Dataset.from_tensor_slices((x, ys[split].astype(np.int32)))
        # Already in memory: no cache.
        return self._source(examples, stats, image_shape, cache=False, shuffle_buffer=x.shape[0])


def _image_size(path):
    """`(height, width)` of an image file, from its header when it is a PNG/JPEG."""
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        width, height = struct.unpack(">II", head[16:24])
        return int(height), int(width)
    data = tf.io.read_file(path)
    if head[:2] == b"\xff\xd8":
        return tuple(int(d) for d in tf.io.extract_jpeg_shape(data)[:2])
    return tuple(int(d) for d in tf.io.decode_image(data, expand_animations=False).shape[:2])


class ImageDir(_UserData):
    """Builder for `"dir:<path>"`."""

    prefix = "dir:"

    def _index(self):
        """Class names and, per split, the sorted image files of each class."""
        _require_path(self.path, "Image directory")
        for s in SPLITS:
            _require_path(os.path.join(self.path, s), f"Split folder {s!r} (<path>/{s}/<class>/*.png)")
        classes, test_classes = (
            sorted(d for d in os.listdir(os.path.join(self.path, s))
                   if os.path.isdir(os.path.join(self.path, s, d)))
            for s in SPLITS
        )
        if test_classes != classes:
            raise ValueError(
                "test/ must have the same class folders as train/ (labels would fall outside "
                "[0, num_classes) or shift); add empty folders for absent classes. "
                f"Received: train classes={classes}, test classes={test_classes}"
            )
        files = {
            s: [
                os.path.join(self.path, s, c, f)
                for c in classes
                for f in sorted(os.listdir(os.path.join(self.path, s, c)))
                if f.lower().endswith(IMAGE_EXTENSIONS)
            ]
            for s in SPLITS
        }
        for s in SPLITS:
            if not files[s]:
                raise ValueError(
                    f"The {s!r} split is empty: no {IMAGE_EXTENSIONS} files in "
                    f"{os.path.join(self.path, s)}/<class>/. Received: path={self.path!r}"
                )
        return classes, files

    def _shape(self, files):
        sizes = {}
        for s in SPLITS:
            for f in files[s]:
                sizes.setdefault(_image_size(f), f)
        if len(sizes) > 1:
            raise ValueError(
                "Images of mixed shapes; resize them to one size first. "
                f"Received: sizes {sorted(sizes)} (e.g. {sorted(sizes.values())[:2]})"
            )
        channels = tf.io.decode_image(tf.io.read_file(files["train"][0]), expand_animations=False).shape[-1]
        channels = channels if channels in (1, 4) else 3
        return next(iter(sizes)) + (int(channels),)

    def info(self):
        classes, files = self._index()
        return DatasetInfo(self.name, self._shape(files), len(classes), {s: len(files[s]) for s in SPLITS})

    def _split_dataset(self, split, classes, shape):
        color_mode = {1: "grayscale", 3: "rgb", 4: "rgba"}[shape[2]]
        ds = keras.utils.image_dataset_from_directory(
            os.path.join(self.path, split),
            labels="inferred",
            label_mode="int",
            class_names=classes,
            color_mode=color_mode,
            batch_size=None,
            image_size=shape[:2],
            shuffle=False,
            verbose=False,
        )
        return ds.map(lambda x, y: (tf.cast(tf.round(x), tf.uint8), tf.cast(y, tf.int32)))

    def source(self, split, data_dir=None):
        classes, files = self._index()
        shape = self._shape(files)
        train = self._split_dataset("train", classes, shape)
        stats = _channel_stats(x for x, _ in train.batch(256).as_numpy_iterator())
        return self._source(self._split_dataset(split, classes, shape), stats, shape, True,
                            len(files[split]))
