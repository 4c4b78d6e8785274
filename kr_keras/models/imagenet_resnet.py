"""The ImageNet ResNet-18/34/50 (He et al. 2016, Table 1) with a width multiplier."""

import os

import keras
from keras import layers

from kr_keras.models.resnet_blocks import ResNetLayers

# depth -> (blocks per stage, bottleneck?)
_SPECS = {18: ((2, 2, 2, 2), False), 34: ((3, 4, 6, 3), False), 50: ((3, 4, 6, 3), True)}


def imagenet_resnet(
    depth,
    width_multiplier=1.0,
    num_classes=1000,
    input_shape=(224, 224, 3),
    bn_momentum=0.9,
    weight_decay=None,
    weights=None,
    name=None,
):
    """Builds the ImageNet ResNet-18, -34 (basic blocks) or -50 (bottleneck), logits out.

    A bottleneck's stride is on its 3x3 convolution (torchvision's "ResNet v1.5");
    at width 1 and 1000 classes, 11.7M / 21.8M / 25.6M trainable parameters.
    Block outputs are the ReLU layers `stage{s}_block{b}_out` (`s` = 1..4); the
    stem output (after the max pooling) is `stem_out`.

    Args:
        depth: 18, 34 or 50.
        width_multiplier: Scales every filter count (rounded, at least 1);
            e.g. 0.125 for toy runs.
        num_classes: Number of logits.
        input_shape: Channels-last image shape. Any size >= 32 works; the
            network down-samples by 32.
        bn_momentum: Batch-normalisation momentum; 0.9 (PyTorch's 0.1, what
            the reference ImageNet recipes use).
        weight_decay: Optional L2 factor for conv/dense kernels.
        weights: `None` (random initialisation) or the path of a `.keras` (or
            `.weights.h5`) file of the same architecture, e.g. a teacher you
            trained and saved. Nothing is downloaded.
        name: Model name; defaults to `resnet{depth}` (+ width suffix).

    Returns:
        A functional `keras.Model` mapping images to logits.

    Raises:
        ValueError: for another depth, a bad argument, or a weights file
            that cannot be read into this architecture.
        FileNotFoundError: when `weights` names a missing file.

    Example:

    >>> teacher = imagenet_resnet(34)
    >>> student = imagenet_resnet(18)
    >>> student.get_layer("stage4_block2_out").output.shape
    (None, 7, 7, 512)

    Reference:
        He, Zhang, Ren and Sun, "Deep Residual Learning for Image
        Recognition", CVPR 2016 (Table 1; option-B projection shortcuts).
    """
    if depth not in _SPECS:
        raise ValueError(
            f"`depth` must be one of {sorted(_SPECS)} (ImageNet ResNets); use "
            "kr_keras.models.cifar_resnet for the 6n+2 CIFAR ResNets. "
            f"Received: depth={depth!r}"
        )
    name = ResNetLayers.checked_name(depth, width_multiplier, num_classes, name)
    if weights is not None:
        weights = _check_weights_path(weights)
    blocks, bottleneck = _SPECS[depth]

    def width(filters):
        return max(1, int(round(filters * width_multiplier)))

    make = ResNetLayers(bn_momentum, weight_decay)
    inputs = keras.Input(shape=tuple(input_shape), name="images")
    x = make.conv_bn(inputs, width(64), 7, 2, "stem_conv", "stem_bn", "stem_relu")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_out")(x)
    for stage, num_blocks in enumerate(blocks):
        for block in range(num_blocks):
            strides = 2 if (stage > 0 and block == 0) else 1
            x = make.block(x, width(64 * 2**stage), strides,
                           f"stage{stage + 1}_block{block + 1}", bottleneck)
    model = make.head(inputs, x, num_classes, name)
    if weights is not None:
        try:
            model.load_weights(weights)
        except Exception as error:  # Keras raises several types here.
            raise ValueError(
                f"Could not load the weights in {weights!r} into {name} "
                f"(depth={depth}, width_multiplier={width_multiplier:g}, "
                f"num_classes={num_classes}, input_shape={tuple(input_shape)}). "
                "Pass the path of a .keras (or .weights.h5) file saved from the "
                "same architecture. "
                f"Cause: {type(error).__name__}: {error}. Received: weights={weights!r}"
            ) from error
    return model


def _check_weights_path(weights):
    path = os.fspath(weights)
    if not path.endswith((".keras", ".weights.h5")):
        raise ValueError(
            "`weights` must be None or the path of a user-supplied .keras (or "
            ".weights.h5) file; kr_keras downloads no pretrained weights. "
            f"Received: weights={weights!r}"
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"No weights file at {path!r}. Save a trained model with "
            "model.save('<name>.keras') and pass that path. "
            f"Received: weights={weights!r}"
        )
    return path
