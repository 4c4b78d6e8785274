"""CIFAR-10, CIFAR-100 and T-CIFAR100 (CIFAR-100 with a fixed Gaussian distortion), from TFDS."""

import functools

from kr_keras.data import augment
from kr_keras.data.dataset_info import DatasetInfo
from kr_keras.data.source import DatasetBuilder, Source, tfds_examples

# Per-channel mean and (population) std of the training images on the [0, 1] scale.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)
PAD = 4


class Cifar(DatasetBuilder):
    """Builder for `"cifar10"`, `"cifar100"` and `"t_cifar100"`.

    Args:
        name: the public name.
        tfds_name: `"cifar10"` or `"cifar100"`.
        default_distortion_sigma: distortion used when `load` gets
            `distortion_sigma=None` (1.0 for T-CIFAR100, else `None`).
    """

    def __init__(self, name, tfds_name, default_distortion_sigma=None):
        self.name = name
        self.tfds_name = tfds_name
        self.default_distortion_sigma = default_distortion_sigma
        ten = tfds_name == "cifar10"
        self.num_classes = 10 if ten else 100
        self.mean = CIFAR10_MEAN if ten else CIFAR100_MEAN
        self.std = CIFAR10_STD if ten else CIFAR100_STD

    def info(self):
        return DatasetInfo(self.name, (32, 32, 3), self.num_classes, {"train": 50_000, "test": 10_000})

    def source(self, split, data_dir=None):
        return Source(
            examples=tfds_examples(self.tfds_name, split, data_dir),
            mean=self.mean,
            std=self.std,
            train_transform=functools.partial(augment.pad_crop_flip, pad=PAD),
            cache=True,
            shuffle_buffer=50_000,
        )
