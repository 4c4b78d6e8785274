"""`KnowledgeAggregation`: merge a group of teacher maps into one map."""

import keras
import tensorflow as tf
from keras import ops

from kr_keras.layers.identity_mapping import IdentityMapping


@keras.saving.register_keras_serializable(package="kr_keras")
class KnowledgeAggregation(keras.layers.Layer):
    """Deep knowledge aggregation of `k` teacher maps (paper Sec. 3.3, Fig. 3).

    `IdentityMapping` layers bring the maps to the student tap's size; a 1x1
    convolution of their concatenation, then batch norm, projects them to its
    channels: the knowledge `K_j` (docs/method.md). Channels-last.
    `merge` and `project` split the call: a group projected twice (with
    updated weights) can be merged once.

    Args:
        filters: Channel count of the output (the student tap's channels).
        target_size: `(height, width)` of the output (the student tap's).
        momentum: Batch-normalisation momentum; 0.9 as in PyTorch's CIFAR
            references (Keras' 0.99 needs thousands of steps).
        kernel_initializer: Initializer of the 1x1 projection.
        **kwargs: Base layer keyword arguments.

    Call arguments:
        inputs: A list of `k` tensors `[batch, h_i, w_i, c_i]`.
        training: Python bool, batch-norm mode.

    Returns:
        A `[batch, target_height, target_width, filters]` tensor.

    Example:

    >>> agg = KnowledgeAggregation(filters=12, target_size=(7, 7))
    >>> maps = [keras.ops.ones([2, 14, 14, 16]), keras.ops.ones([2, 7, 7, 32])]
    >>> agg(maps).shape
    TensorShape([2, 7, 7, 12])
    """

    def __init__(self, filters, target_size, momentum=0.9, kernel_initializer="he_normal",
                 **kwargs):
        if int(filters) < 1:
            raise ValueError(f"`filters` must be >= 1. Received: filters={filters}")
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.target_size = tuple(int(s) for s in target_size)
        self.momentum = float(momentum)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shapes):
        if not isinstance(input_shapes, (list, tuple)) or not input_shapes or (
            not isinstance(input_shapes[0], (list, tuple, tf.TensorShape))
        ):
            raise ValueError(
                "KnowledgeAggregation expects a non-empty list of 4D feature "
                f"maps. Received: input_shapes={input_shapes}"
            )
        self.id_layers = []
        for i, shape in enumerate(input_shapes):
            layer = IdentityMapping(self.target_size, name=f"id_{i}")
            layer.build(shape)
            self.id_layers.append(layer)
        channels = sum(int(shape[-1]) for shape in input_shapes)
        self.projection = keras.layers.Conv2D(self.filters, 1, use_bias=False, name="projection",
                                              kernel_initializer=self.kernel_initializer)
        self.projection.build((None, *self.target_size, channels))
        self.batch_norm = keras.layers.BatchNormalization(momentum=self.momentum, name="batch_norm")
        self.batch_norm.build((None, *self.target_size, self.filters))

    def call(self, inputs, training=None):
        return self.project(self.merge(inputs), training=training)

    def merge(self, inputs):
        """The group's maps at the target size, as a list (`project` needs no concatenation)."""
        return [layer(x) for layer, x in zip(self.id_layers, inputs)]

    def project(self, merged, training=None, update_statistics=True):
        """The 1x1 projection and batch norm of a `merge`d group.

        Args:
            merged: Output of `merge` (a list of maps at the target size).
            training: Batch-norm mode.
            update_statistics: With `training`, `False` normalises with the
                batch statistics without moving the moving averages, for a
                second forward of the same batch in one training step.
        """
        return self.normalize(self._projection(merged), training, update_statistics)

    def normalize(self, outputs, training=None, update_statistics=True):
        """The batch norm after the projection; `update_statistics` as in `project`."""
        if training and not update_statistics:
            bn = self.batch_norm
            values = ops.cast(outputs, "float32")
            mean, variance = ops.moments(values, axes=[0, 1, 2])
            values = (values - mean) * ops.rsqrt(variance + bn.epsilon)
            values = values * ops.cast(bn.gamma, "float32") + ops.cast(bn.beta, "float32")
            return ops.cast(values, outputs.dtype)
        return self.batch_norm(outputs, training=training)

    def _projection(self, maps):
        """`projection(concatenate(maps))` as `sum_i maps[i] @ W_i`, `W_i` the
        kernel's rows of map i's channels (on CPU also the faster kernel)."""
        dtype = self.projection.compute_dtype
        kernel = ops.cast(self.projection.kernel, dtype)
        kernel = ops.reshape(kernel, (kernel.shape[2], kernel.shape[3]))
        channels = sum(x.shape[-1] for x in maps)
        if channels != kernel.shape[0]:
            raise ValueError(
                f"The merged maps have {channels} channels; the projection takes "
                f"{kernel.shape[0]}. Received: {[tuple(x.shape) for x in maps]}")
        total, offset = None, 0
        for x in maps:
            width = x.shape[-1]
            product = ops.matmul(ops.reshape(ops.cast(x, dtype), (-1, width)),
                                 kernel[offset:offset + width])
            total = product if total is None else total + product
            offset += width
        return ops.reshape(total, (-1, *self.target_size, self.filters))

    def compute_output_shape(self, input_shapes):
        return (input_shapes[0][0], *self.target_size, self.filters)

    def get_config(self):
        config = {
            "filters": self.filters,
            "target_size": list(self.target_size),
            "momentum": self.momentum,
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer
            ),
        }
        base_config = super().get_config()
        return {**base_config, **config}
