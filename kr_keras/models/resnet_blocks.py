"""The residual blocks `cifar_resnet` and `imagenet_resnet` share."""

import keras
from keras import layers

from kr_keras.layers.subsample import Subsample2D


class ResNetLayers:
    """Makes the ResNets' conv and BN layers with one set of options.

    Args:
        bn_momentum: Batch-normalisation momentum.
        weight_decay: Optional L2 factor of the conv and dense kernels.
    """

    def __init__(self, bn_momentum, weight_decay):
        self.bn_momentum = bn_momentum
        self.regularizer = keras.regularizers.L2(weight_decay) if weight_decay else None

    @staticmethod
    def checked_name(depth, width_multiplier, num_classes, name):
        """Checks the arguments both ResNets share; returns the model name
        (default `resnet{depth}`, plus `_x{width}` off width 1)."""
        if width_multiplier <= 0:
            raise ValueError(f"`width_multiplier` must be > 0. "
                             f"Received: width_multiplier={width_multiplier}")
        if num_classes < 1:
            raise ValueError(f"`num_classes` must be >= 1. Received: num_classes={num_classes}")
        if name is not None:
            return name
        return f"resnet{depth}" + (f"_x{width_multiplier:g}" if width_multiplier != 1.0 else "")

    def head(self, inputs, x, num_classes, name):
        """Global average pooling (`pool`) and the `logits` layer: the model."""
        x = layers.GlobalAveragePooling2D(name="pool")(x)
        outputs = layers.Dense(num_classes, kernel_regularizer=self.regularizer, name="logits")(x)
        return keras.Model(inputs, outputs, name=name)

    def conv(self, filters, kernel, strides, name):
        return layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False,
                             kernel_initializer="he_normal",
                             kernel_regularizer=self.regularizer, name=name)

    def bn(self, name):
        return layers.BatchNormalization(momentum=self.bn_momentum, name=name)

    def conv_bn(self, x, filters, kernel, strides, name, bn_name, relu_name=None):
        x = self.bn(bn_name)(self.conv(filters, kernel, strides, name)(x))
        return layers.ReLU(name=relu_name)(x) if relu_name else x

    def block(self, x, filters, strides, prefix, bottleneck=False):
        """A basic (two 3x3) or bottleneck (1x1, 3x3 with the stride, 1x1 with 4x
        the filters) block, output the ReLU layer `{prefix}_out`. Where the shape
        changes the shortcut is a 1x1 conv + BN projection, its stride a
        `Subsample2D` before a stride-1 conv (docs/reliability.md)."""
        out_filters = 4 * filters if bottleneck else filters
        if bottleneck:
            y = self.conv_bn(x, filters, 1, 1, f"{prefix}_conv1", f"{prefix}_bn1",
                             f"{prefix}_relu1")
            y = self.conv_bn(y, filters, 3, strides, f"{prefix}_conv2", f"{prefix}_bn2",
                             f"{prefix}_relu2")
            y = self.conv_bn(y, out_filters, 1, 1, f"{prefix}_conv3", f"{prefix}_bn3")
        else:
            y = self.conv_bn(x, filters, 3, strides, f"{prefix}_conv1", f"{prefix}_bn1",
                             f"{prefix}_relu1")
            y = self.conv_bn(y, filters, 3, 1, f"{prefix}_conv2", f"{prefix}_bn2")
        shortcut = x
        if strides != 1 or x.shape[-1] != out_filters:
            if strides != 1:
                shortcut = Subsample2D(strides, name=f"{prefix}_proj_subsample")(shortcut)
            shortcut = self.conv_bn(shortcut, out_filters, 1, 1, f"{prefix}_proj",
                                    f"{prefix}_proj_bn")
        x = layers.Add(name=f"{prefix}_add")([shortcut, y])
        return layers.ReLU(name=f"{prefix}_out")(x)
