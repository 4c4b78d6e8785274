"""Distillers: `keras.Model` subclasses that `fit` a student from a teacher.

`Distiller` trains a student on CE plus any list of distillation losses;
`KRDistiller` is the `Distiller` of Knowledge Representing's losses. Importing
this package registers every method (`methods`) with the registry.
"""

from kr_keras.distillers import methods  # noqa: F401 (registers)
from kr_keras.distillers.distiller import Distiller
from kr_keras.distillers.kr_distiller import KRDistiller
from kr_keras.distillers.registry import build_distiller
from kr_keras.distillers.registry import names
from kr_keras.distillers.registry import register
from kr_keras.distillers.registry import register_losses

__all__ = ["Distiller", "KRDistiller", "build_distiller", "names", "register", "register_losses"]
