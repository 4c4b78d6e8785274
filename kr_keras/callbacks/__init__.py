"""Keras callbacks: `PreciseBatchNorm` and `recompute_batch_norm_statistics`."""

from kr_keras.callbacks.precise_bn import PreciseBatchNorm
from kr_keras.callbacks.precise_bn import recompute_batch_norm_statistics

__all__ = ["PreciseBatchNorm", "recompute_batch_norm_statistics"]
