"""Low-level ops of kr_keras."""

from kr_keras.ops.sparse_recode import inactive_fraction
from kr_keras.ops.sparse_recode import recode_by_mask
from kr_keras.ops.sparse_recode import sparse_recode
from kr_keras.ops.sparse_recode import track_threshold

__all__ = ["inactive_fraction", "recode_by_mask", "sparse_recode", "track_threshold"]
