"""`IdentityMapping` (ID) layer: bring a feature map to a target spatial size."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kr_keras")
class IdentityMapping(keras.layers.Layer):
    """Parameter-free map of a feature map onto a target spatial size.

    The paper's identity-mapping (ID) layer (Sec. 4, Fig. 3) for the teacher
    maps of an aggregation group (docs/method.md): the identity for equal
    sizes, strided average pooling for an integer multiple, else bilinear
    resizing. Channels-last.

    Args:
        target_size: `(height, width)` of the output.
        **kwargs: Base layer keyword arguments.

    Call arguments:
        inputs: A `[batch, height, width, channels]` tensor.

    Returns:
        A `[batch, target_height, target_width, channels]` tensor.

    Example:

    >>> layer = IdentityMapping(target_size=(8, 8))
    >>> layer(keras.ops.ones([2, 16, 16, 3])).shape
    TensorShape([2, 8, 8, 3])
    """

    def __init__(self, target_size, **kwargs):
        target_size = tuple(int(s) for s in target_size)
        if len(target_size) != 2 or min(target_size) < 1:
            raise ValueError(
                "`target_size` must be a (height, width) pair of positive "
                f"ints. Received: target_size={target_size}"
            )
        super().__init__(**kwargs)
        self.target_size = target_size

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                "IdentityMapping expects a 4D channels-last feature map. "
                f"Received: input_shape={input_shape}"
            )
        height, width = input_shape[1], input_shape[2]
        th, tw = self.target_size
        self._mode, self._pool_size = "resize", None
        if height is None or width is None:
            return
        if (height, width) == (th, tw):
            self._mode = "identity"
        elif height % th == 0 and width % tw == 0:
            self._mode, self._pool_size = "pool", (height // th, width // tw)

    def call(self, inputs):
        if self._mode == "identity":
            return inputs
        if self._mode == "pool":
            return ops.average_pool(
                inputs,
                pool_size=self._pool_size,
                strides=self._pool_size,
                padding="valid",
            )
        return ops.image.resize(
            inputs, self.target_size, interpolation="bilinear"
        )

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.target_size, input_shape[-1])

    def get_config(self):
        config = {"target_size": list(self.target_size)}
        base_config = super().get_config()
        return {**base_config, **config}
