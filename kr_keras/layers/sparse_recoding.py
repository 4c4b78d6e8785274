"""`SparseRecoding` layer: SRP with a learnable threshold (paper Sec. 3.2)."""

import keras
import tensorflow as tf

from kr_keras.ops.sparse_recode import sparse_recode


@keras.saving.register_keras_serializable(package="kr_keras")
class SparseRecoding(keras.layers.Layer):
    """Sparse recoding penalty with a learnable threshold `tau`.

    An identity in the forward pass. In the backward pass the gradient to `x`
    is multiplied by `boost` where `|residual| > tau` (dominant neurons) and
    by `floor` elsewhere (inactive neurons), see
    `kr_keras.ops.sparse_recode`. `tau` is a trainable scalar weight named
    `tau`, initialised on the first call to `mean(|residual|)` (the paper:
    "initialized with the mean value of parameters distribution"); its
    gradient `fraction_inactive - target_inactive` makes it track the
    `target_inactive` quantile of `|residual|` as training goes on.

    Args:
        boost: Gradient multiplier for dominant entries. Must be >= 0.
        floor: Gradient multiplier for inactive entries. Must be >= 0.
        target_inactive: Fraction of entries kept inactive, in `[0, 1]`.
        **kwargs: Base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        x: The tensor to pass through (e.g. a student feature map).
        residual: Tensor broadcastable to `x` that decides which entries
            are dominant (in KR, `student_features - knowledge`).

    Returns:
        `x`, unchanged in value.

    Example:

    >>> layer = SparseRecoding(boost=2.0)
    >>> x = tf.random.normal([2, 4, 4, 8])
    >>> y = layer(x, x - tf.zeros_like(x))
    >>> bool(tf.reduce_all(y == x))
    True
    """

    def __init__(self, boost=2.0, floor=0.0, target_inactive=0.5, **kwargs):
        if boost < 0:
            raise ValueError(
                f"`boost` must be >= 0. Received: boost={boost}"
            )
        if floor < 0:
            raise ValueError(
                f"`floor` must be >= 0. Received: floor={floor}"
            )
        if not 0.0 <= target_inactive <= 1.0:
            raise ValueError(
                "`target_inactive` must be in [0, 1]. "
                f"Received: target_inactive={target_inactive}"
            )
        # An identity keeps its input's dtype: no autocast to the policy's
        # compute dtype (under mixed precision KR feeds float32 features).
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.boost = float(boost)
        self.floor = float(floor)
        self.target_inactive = float(target_inactive)

    def build(self, x_shape, residual_shape=None):
        # Statistics stay float32 under mixed precision (autocast=False).
        self.tau = self.add_weight(
            name="tau",
            shape=(),
            initializer="zeros",
            dtype="float32",
            autocast=False,
            constraint=keras.constraints.NonNeg(),
            aggregation="mean",
        )
        self.initialized = self.add_weight(
            name="initialized",
            shape=(),
            initializer="zeros",
            dtype="float32",
            trainable=False,
            autocast=False,
            aggregation="only_first_replica",
        )

    def call(self, x, residual):
        residual = tf.cast(residual, tf.float32)
        # Initialise tau on the first call only. Unconditional writes of a
        # `where` keep this graph- and MirroredStrategy-friendly (no assign
        # inside a cond).
        first_value = tf.reduce_mean(tf.abs(residual))
        is_initialized = tf.convert_to_tensor(self.initialized) > 0.0
        self.tau.assign(
            tf.where(is_initialized, tf.convert_to_tensor(self.tau),
                     tf.stop_gradient(first_value))
        )
        self.initialized.assign(1.0)
        return sparse_recode(
            x,
            residual,
            tf.convert_to_tensor(self.tau),
            boost=self.boost,
            floor=self.floor,
            target_inactive=self.target_inactive,
        )

    def compute_output_shape(self, x_shape, residual_shape=None):
        return x_shape

    def get_config(self):
        config = {
            "boost": self.boost,
            "floor": self.floor,
            "target_inactive": self.target_inactive,
        }
        base_config = super().get_config()
        return {**base_config, **config}
