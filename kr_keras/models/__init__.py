"""Model builders and feature tapping."""

from kr_keras.models.cifar_resnet import cifar_resnet
from kr_keras.models.fingerprint import weights_fingerprint
from kr_keras.models.imagenet_pairing import imagenet_pairing
from kr_keras.models.imagenet_pairing import stage_output_names
from kr_keras.models.imagenet_resnet import imagenet_resnet
from kr_keras.models.onednn_guard import strided_pointwise_convs
from kr_keras.models.tap import default_tap_names
from kr_keras.models.tap import feature_taps
from kr_keras.models.tap import inline_nested
from kr_keras.models.tap import model_io
from kr_keras.models.tap import tap

__all__ = [
    "cifar_resnet",
    "default_tap_names",
    "feature_taps",
    "imagenet_pairing",
    "imagenet_resnet",
    "inline_nested",
    "model_io",
    "stage_output_names",
    "strided_pointwise_convs",
    "tap",
    "weights_fingerprint",
]
