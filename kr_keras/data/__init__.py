"""Data pipelines: `load(name, split, batch_size, ...)` and `info(name)`.

Datasets: `"fashion_mnist"`, `"cifar10"`, `"cifar100"`, `"t_cifar100"`
(CIFAR-100 with a fixed Gaussian distortion), `"imagenet2012"`,
`"npz:<path>"`, `"dir:<path>"`. See `docs/data.md`.
"""

from kr_keras.data.dataset_info import DatasetInfo
from kr_keras.data.pipeline import info, load

__all__ = ["DatasetInfo", "info", "load"]
