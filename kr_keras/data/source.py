"""What a dataset module hands to `pipeline.load` (`Source`, `DatasetBuilder`); `tfds_examples`."""

import dataclasses
from typing import Callable, Optional

import tensorflow as tf
import tensorflow_datasets as tfds

from kr_keras.data.dataset_info import DatasetInfo


@dataclasses.dataclass(frozen=True)
class Source:
    """Raw examples of one split plus the recipe to preprocess them.

    Args:
        examples: unbatched `tf.data.Dataset` of `(image, label)` in the same
            order on every run. `image` is `uint8` `[H, W, C]` (float on the
            0..255 scale for user arrays), or an encoded string if `decode` is set.
        mean: per-channel mean of the clean training images on the [0, 1] scale.
        std: per-channel standard deviation, same scale.
        train_transform: `fn(image, seed) -> image`, the training augmentation
            of a float [0, 1]-scale image with a `[2]` int64 stateless seed.
        eval_transform: `fn(image) -> image` when not augmenting (ImageNet's crop), or `None`.
        decode: `fn(encoded) -> uint8 image`, run in the parallel map, or `None`.
        cache: whether the (decoded) split fits in memory and may be cached.
        shuffle_buffer: buffer size to use when shuffling.
    """

    examples: tf.data.Dataset
    mean: tuple
    std: tuple
    train_transform: Callable
    eval_transform: Optional[Callable] = None
    decode: Optional[Callable] = None
    cache: bool = True
    shuffle_buffer: int = 60_000


class DatasetBuilder:
    """Base class of the builders in `registry.py`: `info()` and `source(split, data_dir)`.

    `default_distortion_sigma`: what `load` uses for `distortion_sigma=None`.
    """

    default_distortion_sigma: Optional[float] = None

    def info(self) -> DatasetInfo:
        raise NotImplementedError

    def source(self, split: str, data_dir=None) -> Source:
        raise NotImplementedError


def tfds_examples(name, split, data_dir=None, decoders=None):
    """Returns the `(image, label)` examples of a TFDS split in file order, preparing it first.

    Args:
        name: TFDS name, e.g. `"cifar10"`.
        split: TFDS split name.
        data_dir: TFDS data directory (`None`: TFDS's default).
        decoders: passed to `as_dataset` (e.g. to skip image decoding).

    Returns:
        An unbatched `tf.data.Dataset` of `(image, label)`, not shuffled.

    Raises:
        RuntimeError: TFDS could not download or prepare it (e.g. offline).
    """
    builder = tfds.builder(name, data_dir=data_dir)
    try:
        builder.download_and_prepare()
    except Exception as e:  # tfds raises many types (network, missing deps).
        raise RuntimeError(
            f"tfds could not download/prepare {name!r} ({type(e).__name__}: {e}). On an "
            "offline machine, copy a prepared TFDS copy of the dataset into `data_dir` "
            f"(or TFDS_DATA_DIR). Received: name={name!r}, data_dir={data_dir!r}"
        ) from e
    return builder.as_dataset(
        split=split, as_supervised=True, shuffle_files=False, decoders=decoders
    )
