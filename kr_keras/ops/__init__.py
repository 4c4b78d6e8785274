"""Low-level ops of kr_keras."""

from kr_keras.ops.sparse_recode import sparse_recode
from kr_keras.ops.sparse_recode import srp_penalty_curve

__all__ = ["sparse_recode", "srp_penalty_curve"]
