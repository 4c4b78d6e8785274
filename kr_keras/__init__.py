"""kr_keras: Knowledge Representing (KR) distillation for Keras 3 (README.md, "Use it")."""

from kr_keras import callbacks
from kr_keras import data
from kr_keras import distribute
from kr_keras import distillers
from kr_keras import layers
from kr_keras import losses
from kr_keras import models
from kr_keras import ops
from kr_keras.distillers import KRDistiller
from kr_keras.distillers import build_distiller

__version__ = "0.2.0"

__all__ = [
    "KRDistiller",
    "build_distiller",
    "callbacks",
    "data",
    "distribute",
    "distillers",
    "layers",
    "losses",
    "models",
    "ops",
]
