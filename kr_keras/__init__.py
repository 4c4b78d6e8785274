"""kr_keras: Knowledge Representing (KR) distillation for Keras 3."""

__version__ = "0.1.0"
from kr_keras import data
