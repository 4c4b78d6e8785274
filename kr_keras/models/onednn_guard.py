"""A guard against a TensorFlow kernel that corrupts memory on some CPUs.

TensorFlow 2.21's oneDNN weight gradient of a strided 1x1 convolution with few
channels corrupts the heap on AVX-512 CPUs; the distillers warn about a model
with one (docs/reliability.md, "A TensorFlow kernel that corrupts memory").
"""

import os
import warnings

import keras

# Crashes were seen for 3-12 input channels; 16 and more ran.
MAX_RISKY_CHANNELS = 15


def strided_pointwise_convs(model):
    """Names of the 1x1 `Conv2D` layers of `model` (nested models included)
    with a stride > 1 and at most `MAX_RISKY_CHANNELS` input channels.

    Example:

    >>> x = keras.Input((32, 32, 4))
    >>> y = keras.layers.Conv2D(8, 1, strides=2, name="proj")(x)
    >>> strided_pointwise_convs(keras.Model(x, y))
    ['proj']
    """
    return [layer.name for layer in model._flatten_layers(include_self=False)
            if isinstance(layer, keras.layers.Conv2D)
            and tuple(layer.kernel_size) == (1, 1)
            and max(layer.strides) > 1
            and layer.built
            and layer.kernel.shape[-2] <= MAX_RISKY_CHANNELS]


def onednn_on_avx512():
    """Whether oneDNN is on (`TF_ENABLE_ONEDNN_OPTS` is not "0") on an AVX-512
    CPU (from /proc/cpuinfo; `False` where it cannot be read)."""
    if os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1") == "0":
        return False
    try:
        with open("/proc/cpuinfo") as f:
            return "avx512f" in f.read()
    except OSError:
        return False


def warn_strided_pointwise(model, role="model"):
    """Warns, naming the layers and the fix, when `model` trains a strided
    few-channel 1x1 convolution on a CPU where that op corrupts memory."""
    names = strided_pointwise_convs(model)
    if names and model.trainable and onednn_on_avx512():
        warnings.warn(
            f"The {role} '{model.name}' has strided 1x1 convolutions with at most "
            f"{MAX_RISKY_CHANNELS} input channels ({names}). On this AVX-512 CPU "
            "TensorFlow's oneDNN weight gradient of that op can corrupt memory and "
            "crash the process. Fix: put kr_keras.layers.Subsample2D(stride) before "
            "a stride-1 1x1 convolution (the same map), widen the layer to >= 16 "
            "input channels, or set TF_ENABLE_ONEDNN_OPTS=0 before importing "
            "TensorFlow.", stacklevel=3)
    return names
