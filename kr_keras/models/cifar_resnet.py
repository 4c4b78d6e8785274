"""The 6n+2 CIFAR ResNet (He et al. 2016, Sec. 4.2) with a width multiplier."""

import keras

from kr_keras.models.resnet_blocks import ResNetLayers


def cifar_resnet(
    depth,
    width_multiplier=1.0,
    num_classes=10,
    input_shape=(32, 32, 3),
    bn_momentum=0.9,
    weight_decay=None,
    name=None,
):
    """Builds the CIFAR ResNet-`depth` (ResNet-8/14/20/26/32/...), logits out.

    Three stages of `(depth - 2) / 6` basic blocks with 16, 32 and 64 filters
    (times `width_multiplier`), stride 2 opening stages 2 and 3. Block outputs
    are the ReLU layers `stage{s}_block{b}_out`; the stem output is `stem_out`.

    Args:
        depth: Total depth, `6n + 2` (8, 14, 20, 26, 32, 44, 56, 110, ...).
        width_multiplier: Scales the filter counts (rounded, at least 1).
        num_classes: Number of logits.
        input_shape: Channels-last image shape.
        bn_momentum: Batch-normalisation momentum; 0.9 (PyTorch's 0.1) so moving
            statistics settle in short runs (Keras' 0.99 needs thousands of steps).
        weight_decay: Optional L2 factor for conv/dense kernels.
        name: Model name; defaults to `resnet{depth}` (+ width suffix).

    Returns:
        A functional `keras.Model` mapping images to logits.

    Example:

    >>> student = cifar_resnet(8, width_multiplier=0.75, input_shape=(28, 28, 1))
    >>> student.output.shape
    (None, 10)
    """
    if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6 != 0:
        raise ValueError(
            "`depth` must be 6n+2 with n >= 1 (8, 14, 20, 26, 32, ...). "
            f"Received: depth={depth}"
        )
    name = ResNetLayers.checked_name(depth, width_multiplier, num_classes, name)
    blocks_per_stage = (depth - 2) // 6
    make = ResNetLayers(bn_momentum, weight_decay)
    inputs = keras.Input(shape=tuple(input_shape), name="images")
    base = max(1, int(round(16 * width_multiplier)))
    x = make.conv_bn(inputs, base, 3, 1, "stem_conv", "stem_bn", "stem_out")
    for stage in range(3):
        for block in range(blocks_per_stage):
            strides = 2 if (stage > 0 and block == 0) else 1
            x = make.block(x, base * 2**stage, strides, f"stage{stage + 1}_block{block + 1}")
    return make.head(inputs, x, num_classes, name)
