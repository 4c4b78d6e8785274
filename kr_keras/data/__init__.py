"""Data pipelines: `load(name, split, batch_size, ...)` and `info(name)`; see docs/data.md."""

from kr_keras.data.dataset_info import DatasetInfo
from kr_keras.data.pipeline import info, load

__all__ = ["DatasetInfo", "info", "load"]
