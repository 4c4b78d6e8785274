"""Distillers: `keras.Model` subclasses that `fit` a student from a teacher.

Importing this package registers every method with the registry.
"""

from kr_keras.distillers import kr_methods  # noqa: F401 (registers)
from kr_keras.distillers.at_distiller import ATDistiller
from kr_keras.distillers.base import BaseDistiller
from kr_keras.distillers.fitnet_distiller import FitNetDistiller
from kr_keras.distillers.fsp_distiller import FSPDistiller
from kr_keras.distillers.kd_distiller import KDDistiller
from kr_keras.distillers.kdgan_distiller import KDGANDistiller
from kr_keras.distillers.kr_kdgan_distiller import KRKDGANDistiller
from kr_keras.distillers.nst_distiller import NSTDistiller
from kr_keras.distillers.kr_distiller import KRDistiller
from kr_keras.distillers.kr_distiller import group_taps
from kr_keras.distillers.registry import build_distiller
from kr_keras.distillers.registry import names
from kr_keras.distillers.registry import register
from kr_keras.distillers.student_alone import StudentAlone

__all__ = [
    "ATDistiller",
    "BaseDistiller",
    "FSPDistiller",
    "FitNetDistiller",
    "KDDistiller",
    "KDGANDistiller",
    "KRKDGANDistiller",
    "NSTDistiller",
    "KRDistiller",
    "StudentAlone",
    "build_distiller",
    "group_taps",
    "names",
    "register",
]
