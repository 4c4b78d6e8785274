"""`PosteriorDiscriminator`: a small MLP telling teacher from student posteriors."""

import keras


@keras.saving.register_keras_serializable(package="kr_keras")
class PosteriorDiscriminator(keras.layers.Layer):
    """Dense(`units`, ReLU) -> Dense(1): the logit that a class posterior
    came from the teacher (KDGAN-style, see `kr_keras.losses.kdgan`).

    Args:
        units: Hidden width.
        **kwargs: Base layer keyword arguments.

    Call arguments:
        inputs: `[batch, classes]` class probabilities.

    Returns:
        `[batch, 1]` logits ("teacher" = 1).

    Example:

    >>> d = PosteriorDiscriminator(units=16)
    >>> d(keras.ops.ones([2, 10]) / 10).shape
    TensorShape([2, 1])

    Reference: Wang, Zhang, Sun and Qi, "KDGAN: Knowledge Distillation with
    Generative Adversarial Networks", NeurIPS 2018 (paper ref. [30]).
    """

    def __init__(self, units=64, **kwargs):
        if int(units) < 1:
            raise ValueError(f"`units` must be >= 1. Received: units={units}")
        super().__init__(**kwargs)
        self.units = int(units)
        self.hidden = keras.layers.Dense(self.units, activation="relu", name="hidden")
        self.out = keras.layers.Dense(1, name="out")

    def build(self, input_shape):
        self.hidden.build(input_shape)
        self.out.build((input_shape[0], self.units))

    def call(self, inputs):
        return self.out(self.hidden(inputs))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self):
        base_config = super().get_config()
        return {**base_config, "units": self.units}
