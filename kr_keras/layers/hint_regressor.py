"""`HintRegressor`: FitNet's learned map from a student to a teacher map."""

import keras


@keras.saving.register_keras_serializable(package="kr_keras")
class HintRegressor(keras.layers.Layer):
    """Convolution + batch norm + ReLU from the guided layer to the hint.

    RepDistiller's `ConvReg`, channels-last: a 1x1 convolution where the
    student map has the teacher map's height and width, a 3x3 stride-2
    convolution ("same" padding) where it is twice as large; the output has
    the teacher map's channels. `for_shapes` picks these from the two shapes.

    Args:
        filters: Output channels (the teacher hint's).
        kernel_size: 1 or 3.
        strides: 1 or 2.
        momentum: Batch-norm momentum (0.9: usable moving statistics after a
            few hundred steps, unlike Keras' 0.99).
        **kwargs: Base layer keyword arguments.

    Call arguments:
        inputs: `[batch, h, w, c_s]` student map.
        training: Python bool, batch-norm mode.

    Returns:
        `[batch, h / strides, w / strides, filters]`.

    Example:

    >>> reg = HintRegressor.for_shapes((None, 8, 8, 12), (None, 8, 8, 16))
    >>> reg(keras.ops.ones([2, 8, 8, 12])).shape
    TensorShape([2, 8, 8, 16])

    Reference: Romero et al., "FitNets: Hints for Thin Deep Nets", ICLR 2015
    (paper ref. [26]); RepDistiller `models/util.py` (`ConvReg`).
    """

    def __init__(self, filters, kernel_size=1, strides=1, momentum=0.9, **kwargs):
        if int(filters) < 1:
            raise ValueError(f"`filters` must be >= 1. Received: filters={filters}")
        if kernel_size not in (1, 3) or strides not in (1, 2):
            raise ValueError(
                "Use kernel_size 1 or 3 and strides 1 or 2 (or build with "
                "HintRegressor.for_shapes). Received: "
                f"kernel_size={kernel_size}, strides={strides}"
            )
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.strides = int(strides)
        self.momentum = float(momentum)
        self.conv = keras.layers.Conv2D(
            self.filters, self.kernel_size, strides=self.strides,
            padding="same", name="conv",
        )
        self.batch_norm = keras.layers.BatchNormalization(
            momentum=self.momentum, name="batch_norm"
        )

    @classmethod
    def for_shapes(cls, student_shape, teacher_shape, **kwargs):
        """The regressor mapping `student_shape` to `teacher_shape`, built."""
        s_h, t_h = int(student_shape[1]), int(teacher_shape[1])
        if s_h == t_h:
            kernel_size, strides = 1, 1
        elif s_h == 2 * t_h:
            kernel_size, strides = 3, 2
        else:
            raise ValueError(
                "The FitNet guided (student) map must have the hint's height "
                "or twice it; tap another pair of layers. Received: "
                f"student_shape={tuple(student_shape)}, "
                f"teacher_shape={tuple(teacher_shape)}"
            )
        layer = cls(int(teacher_shape[-1]), kernel_size, strides, **kwargs)
        layer.build(tuple(student_shape))
        return layer

    def build(self, input_shape):
        self.conv.build(input_shape)
        self.batch_norm.build(self.conv.compute_output_shape(input_shape))

    def call(self, inputs, training=None):
        x = self.batch_norm(self.conv(inputs), training=training)
        return keras.ops.relu(x)

    def compute_output_shape(self, input_shape):
        return self.conv.compute_output_shape(input_shape)

    def get_config(self):
        config = {
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "momentum": self.momentum,
        }
        base_config = super().get_config()
        return {**base_config, **config}
