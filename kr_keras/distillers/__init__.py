"""Distillers: `keras.Model` subclasses that `fit` a student from a teacher.

Importing this package registers every method with the registry.
"""

from kr_keras.distillers import kr_methods  # noqa: F401 (registers)
from kr_keras.distillers.kr_distiller import KRDistiller
from kr_keras.distillers.kr_distiller import group_taps
from kr_keras.distillers.registry import build_distiller
from kr_keras.distillers.registry import names
from kr_keras.distillers.registry import register
from kr_keras.distillers.student_alone import StudentAlone

__all__ = [
    "KRDistiller",
    "StudentAlone",
    "build_distiller",
    "group_taps",
    "names",
    "register",
]
