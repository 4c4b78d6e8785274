"""Distillation losses, one module per method."""

from kr_keras.losses.kd import KD
from kr_keras.losses.kd import kd_loss

__all__ = ["KD", "kd_loss"]
