"""`Subsample2D`: keep every `stride`-th row and column of a feature map."""

import keras


@keras.saving.register_keras_serializable(package="kr_keras")
class Subsample2D(keras.layers.Layer):
    """`x[:, ::stride, ::stride, :]`, channels-last, no weights.

    Before a stride-1 1x1 convolution it equals a strided 1x1 convolution;
    the ResNets of `kr_keras.models` use it so in their projection shortcuts
    to avoid a oneDNN heap corruption (docs/reliability.md).

    Args:
        stride: Positive int, the sub-sampling factor of both spatial axes.
        **kwargs: Base layer keyword arguments.

    Call arguments:
        inputs: A `[batch, height, width, channels]` tensor.

    Returns:
        A `[batch, ceil(height / stride), ceil(width / stride), channels]` tensor.

    Example:

    >>> Subsample2D(2)(keras.ops.ones([1, 5, 6, 3])).shape
    TensorShape([1, 3, 3, 3])
    """

    def __init__(self, stride, **kwargs):
        if not isinstance(stride, int) or stride < 1:
            raise ValueError(f"`stride` must be an int >= 1. Received: stride={stride!r}")
        super().__init__(**kwargs)
        self.stride = stride

    def call(self, inputs):
        return inputs[:, ::self.stride, ::self.stride, :]

    def compute_output_shape(self, input_shape):
        def size(n):
            return None if n is None else -(-n // self.stride)
        return (input_shape[0], size(input_shape[1]), size(input_shape[2]), input_shape[3])

    def get_config(self):
        return {**super().get_config(), "stride": self.stride}
