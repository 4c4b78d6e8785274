"""Distillers: `keras.Model` subclasses that `fit` a student from a teacher."""

from kr_keras.distillers.kr_distiller import KRDistiller
from kr_keras.distillers.kr_distiller import group_taps

__all__ = ["KRDistiller", "group_taps"]
