"""A guard against a TensorFlow kernel that corrupts memory on some CPUs.

TensorFlow 2.21's oneDNN kernel for the weight gradient of a 1x1
convolution with stride > 1 and few channels corrupts the heap on AVX-512
CPUs ("malloc assertion failure", SIGSEGV, bus error). Reproducer, plain
TensorFlow, checked here on an Intel Xeon with AVX-512 (docs/reliability.md
has the map of shapes):

```python
x = tf.random.normal((4, 56, 56, 4))
w = tf.Variable(tf.random.normal((1, 1, 4, 8)))
with tf.GradientTape() as tape:
    loss = tf.reduce_sum(tf.nn.conv2d(x, w, strides=2, padding="SAME") ** 2)
tape.gradient(loss, w)  # crashes; x[:, ::2, ::2, :] with strides=1 runs
```

`kr_keras.models`' ResNets avoid the op (`kr_keras.layers.Subsample2D`
before a stride-1 conv: the same map); a user's own model is checked by the
distillers, which warn with the fix.
"""

import os
import warnings

import keras

# Crashes were seen for 3-12 input channels; 16 and more ran.
MAX_RISKY_CHANNELS = 15


def strided_pointwise_convs(model):
    """Names of the `Conv2D` layers of `model` (nested models included)
    with a 1x1 kernel, a stride > 1 and at most `MAX_RISKY_CHANNELS` input
    channels.

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
    """Whether TensorFlow runs oneDNN kernels (`TF_ENABLE_ONEDNN_OPTS` is not
    "0") on a CPU with AVX-512 (read from /proc/cpuinfo; `False` where it
    cannot be read)."""
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
