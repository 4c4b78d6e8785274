"""`SparseRecoding` layer: SRP with a learned threshold (paper Sec. 3.2)."""

import keras
import tensorflow as tf

from kr_keras.ops.sparse_recode import recode_by_mask
from kr_keras.ops.sparse_recode import track_threshold


@keras.saving.register_keras_serializable(package="kr_keras")
class SparseRecoding(keras.layers.Layer):
    """Sparse recoding penalty with a learned threshold `tau`.

    An identity whose backward pass multiplies the gradient to `x` by `boost`
    where `|residual| > tau` and by `floor` elsewhere (`kr_keras.ops.sparse_recode`).
    `tau`, a non-trainable scalar weight, starts at the first call's
    `mean(|residual|)`, then takes a step of `kr_keras.ops.track_threshold`
    per training call (docs/method.md, "The threshold rule").
    `inactive_fraction` holds the last batch's fraction within `tau`.

    Args:
        boost: Gradient multiplier for dominant entries. Must be >= 0.
        floor: Gradient multiplier for inactive entries. Must be >= 0.
        target_inactive: Fraction of entries kept inactive, in `[0, 1]`.
        threshold_rate: Step size of `tau`'s rule in log space, >= 0 (0
            keeps `tau` at its first value).
        **kwargs: Base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        x: The tensor to pass through (e.g. a student feature map).
        residual: Tensor broadcastable to `x` that decides which entries
            are dominant (in KR, `student_features - knowledge`).
        training: `False` leaves `tau` where it is; otherwise (the default)
            the call takes one step of the threshold rule.

    Returns:
        `x`, unchanged in value.

    Example:

    >>> layer = SparseRecoding(boost=2.0)
    >>> x = tf.random.normal([2, 4, 4, 8])
    >>> y = layer(x, x - tf.zeros_like(x))
    >>> bool(tf.reduce_all(y == x))
    True
    """

    def __init__(self, boost=2.0, floor=0.0, target_inactive=0.5,
                 threshold_rate=0.05, **kwargs):
        if boost < 0:
            raise ValueError(f"`boost` must be >= 0. Received: boost={boost}")
        if floor < 0:
            raise ValueError(f"`floor` must be >= 0. Received: floor={floor}")
        if not 0.0 <= target_inactive <= 1.0:
            raise ValueError(
                "`target_inactive` must be in [0, 1]. "
                f"Received: target_inactive={target_inactive}"
            )
        if threshold_rate < 0:
            raise ValueError(
                f"`threshold_rate` must be >= 0. Received: threshold_rate={threshold_rate}"
            )
        # An identity keeps its input's dtype: no autocast to the policy's
        # compute dtype (under mixed precision KR feeds float32 features).
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.boost = float(boost)
        self.floor = float(floor)
        self.target_inactive = float(target_inactive)
        self.threshold_rate = float(threshold_rate)

    def build(self, x_shape, residual_shape=None):
        # Statistics stay float32 under mixed precision (autocast=False).
        # Every replica writes the same value (the fraction is all-reduced),
        # so "mean" aggregation keeps them in sync.
        def state(name):
            return self.add_weight(
                name=name, shape=(), initializer="zeros", dtype="float32",
                trainable=False, autocast=False, aggregation="mean",
            )

        self.tau = state("tau")
        self.inactive_fraction = state("inactive_fraction")
        self.initialized = state("initialized")

    def call(self, x, residual, training=None):
        return recode_by_mask(x, self.active(residual, training=training),
                              boost=self.boost, floor=self.floor)

    def active(self, residual, training=None):
        """The mask `|residual| > tau` (the dominant entries), after the
        threshold rule's step when training; what `call` recodes by."""
        residual = tf.stop_gradient(tf.cast(residual, tf.float32))
        # |residual| once, for tau's first value, the mask and the fraction.
        magnitude = tf.abs(residual)
        # tau's first value by an unconditional `where` (no assign or
        # all-reduce in a cond); the floor keeps an all-zero first residual
        # from pinning the multiplicative rule at 0.
        is_initialized = tf.convert_to_tensor(self.initialized) > 0.0
        local_first = tf.cond(is_initialized, lambda: tf.constant(0.0),
                              lambda: tf.reduce_mean(magnitude))
        first_value = tf.maximum(_replica_mean(local_first), 1e-12)
        tau = tf.where(is_initialized, tf.convert_to_tensor(self.tau), first_value)
        self.initialized.assign(1.0)
        active = magnitude > tau
        fraction = _replica_mean(1.0 - tf.reduce_mean(tf.cast(active, tf.float32)))
        self.inactive_fraction.assign(fraction)
        if training is False:
            self.tau.assign(tau)
        else:
            self.tau.assign(track_threshold(
                tau, fraction, self.target_inactive, self.threshold_rate))
        return active

    def compute_output_shape(self, x_shape, residual_shape=None):
        return x_shape

    def get_config(self):
        config = {
            "boost": self.boost,
            "floor": self.floor,
            "target_inactive": self.target_inactive,
            "threshold_rate": self.threshold_rate,
        }
        base_config = super().get_config()
        return {**base_config, **config}


def _replica_mean(value):
    """The mean of `value` over replicas inside a `tf.distribute` replica
    context (the value itself outside one)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.MEAN, value)
