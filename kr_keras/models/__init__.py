"""Model builders and feature tapping."""

from kr_keras.models.cifar_resnet import cifar_resnet
from kr_keras.models.tap import default_tap_names
from kr_keras.models.tap import tap

__all__ = ["cifar_resnet", "default_tap_names", "tap"]
