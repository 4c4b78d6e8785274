"""Distillers: `Distiller`, `KRDistiller` and the method registry, which
importing this package fills (`methods`)."""

from kr_keras.distillers import methods  # noqa: F401 (registers)
from kr_keras.distillers.distiller import Distiller
from kr_keras.distillers.kr_distiller import KRDistiller
from kr_keras.distillers.registry import build_distiller
from kr_keras.distillers.registry import names
from kr_keras.distillers.registry import register
from kr_keras.distillers.registry import register_losses

__all__ = ["Distiller", "KRDistiller", "build_distiller", "names", "register", "register_losses"]
