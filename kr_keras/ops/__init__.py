"""Low-level ops of kr_keras."""

from kr_keras.ops.sparse_recode import inactive_fraction
from kr_keras.ops.sparse_recode import recode_by_mask
from kr_keras.ops.sparse_recode import recode_gradient
from kr_keras.ops.sparse_recode import recoding_alignment
from kr_keras.ops.sparse_recode import sparse_recode
from kr_keras.ops.sparse_recode import track_threshold

__all__ = ["inactive_fraction", "recode_by_mask", "recode_gradient", "recoding_alignment",
           "sparse_recode", "track_threshold"]
