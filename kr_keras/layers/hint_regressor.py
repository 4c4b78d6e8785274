"""`HintRegressor`: FitNet's learned map from a student to a teacher map."""

import keras


def regressor_arguments(student_shape, teacher_shape):
    """The `HintRegressor` arguments of RepDistiller's `ConvReg` case for a
    student and a teacher map shape (`[batch, h, w, c]`), or `None` when no
    case applies (a student map smaller than the teacher's, but not half).

    Example:

    >>> regressor_arguments((None, 10, 10, 4), (None, 8, 8, 6))
    {'kernel_size': (3, 3)}
    """
    (s_h, s_w), (t_h, t_w) = ((int(d) for d in shape[1:3])
                              for shape in (student_shape, teacher_shape))
    if (s_h, s_w) == (2 * t_h, 2 * t_w):
        return {"kernel_size": 3, "strides": 2}
    if (2 * s_h, 2 * s_w) == (t_h, t_w):
        return {"kernel_size": 4, "strides": 2, "transpose": True}
    if s_h >= t_h and s_w >= t_w:
        kernel = (1 + s_h - t_h, 1 + s_w - t_w)
        return {"kernel_size": 1 if kernel == (1, 1) else kernel}
    return None


def regressor_conv(filters, kernel_size=1, strides=1, transpose=False, **kwargs):
    """The convolution of one `ConvReg` case (`regressor_arguments`): any
    kernel at stride 1 ("valid"), 3x3 at stride 2 ("same"), or a 4x4
    transposed convolution at stride 2 ("same")."""
    kernel = (kernel_size,) * 2 if isinstance(kernel_size, int) else tuple(kernel_size)
    usable = (strides == 2 and kernel == (4, 4)) if transpose else (
        min(kernel) >= 1 and (strides == 1 or (strides == 2 and kernel == (3, 3))))
    if not usable:
        raise ValueError(
            "Use strides 1 with any kernel, strides 2 with kernel 3, or a transposed "
            "kernel 4 with strides 2 (HintRegressor.for_shapes picks them). Received: "
            f"kernel_size={kernel_size}, strides={strides}, transpose={transpose}")
    conv = keras.layers.Conv2DTranspose if transpose else keras.layers.Conv2D
    return conv(int(filters), kernel, strides=strides,
                padding="same" if strides == 2 else "valid", **kwargs)


@keras.saving.register_keras_serializable(package="kr_keras")
class HintRegressor(keras.layers.Layer):
    """Convolution + batch norm + ReLU from the guided layer to the hint.

    RepDistiller's `ConvReg`, channels-last (its cases: docs/methods.md,
    "FitNet"); `for_shapes` picks the case from the shapes.

    Args:
        filters: Output channels (the teacher hint's).
        kernel_size: An int or `(height, width)`; 4 with `transpose`.
        strides: 1, or 2 (a 3x3 "same" or a transposed convolution).
        transpose: Use the transposed convolution (half-size student maps).
        momentum: Batch-norm momentum (0.9: usable moving statistics after a
            few hundred steps, unlike Keras' 0.99).
        **kwargs: Base layer keyword arguments.

    Call arguments:
        inputs: `[batch, h, w, c_s]` student map.
        training: Python bool, batch-norm mode.

    Returns:
        `[batch, t_h, t_w, filters]`, the teacher map's shape.

    Example:

    >>> reg = HintRegressor.for_shapes((None, 8, 8, 12), (None, 8, 8, 16))
    >>> reg(keras.ops.ones([2, 8, 8, 12])).shape
    TensorShape([2, 8, 8, 16])

    Reference: Romero et al., "FitNets: Hints for Thin Deep Nets", ICLR 2015
    (paper ref. [26]); RepDistiller `models/util.py` (`ConvReg`).
    """

    def __init__(self, filters, kernel_size=1, strides=1, transpose=False, momentum=0.9,
                 **kwargs):
        if int(filters) < 1:
            raise ValueError(f"`filters` must be >= 1. Received: filters={filters}")
        conv = regressor_conv(filters, kernel_size, strides, transpose, name="conv")
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = kernel_size if isinstance(kernel_size, int) else list(kernel_size)
        self.strides = int(strides)
        self.transpose = bool(transpose)
        self.momentum = float(momentum)
        self.conv = conv
        self.batch_norm = keras.layers.BatchNormalization(
            momentum=self.momentum, name="batch_norm"
        )

    @classmethod
    def for_shapes(cls, student_shape, teacher_shape, **kwargs):
        """The regressor mapping `student_shape` to `teacher_shape`, built."""
        arguments = regressor_arguments(student_shape, teacher_shape)
        if arguments is None:
            raise ValueError(
                "The FitNet guided (student) map must be at least the hint's size or half "
                "of it; tap another pair of layers. Received: "
                f"student_shape={tuple(student_shape)}, "
                f"teacher_shape={tuple(teacher_shape)}"
            )
        layer = cls(int(teacher_shape[-1]), **arguments, **kwargs)
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
            "transpose": self.transpose,
            "momentum": self.momentum,
        }
        base_config = super().get_config()
        return {**base_config, **config}
