"""The sparse recoding penalty (SRP) as a gradient-recoding identity, and its threshold rule.

Reference: Liu et al., "Knowledge Representing: Efficient, Sparse Representation
of Prior Knowledge for Knowledge Distillation", Sec. 3.2 and 4.1 (Eq. 3-4).
The reading: docs/method.md, "Sparse recoding penalty" and "The threshold rule".
"""

import tensorflow as tf


def sparse_recode(x, residual, tau, boost=2.0, floor=0.0):
    """Identity on `x` whose gradient is recoded by `|residual| > tau`.

    Backward: `dy * where(|residual| > tau, boost, floor)` (mask in float32), no
    gradient to `residual` or `tau`.

    Args:
        x: Tensor to pass through.
        residual: Tensor broadcastable to `x` that decides which entries are
            dominant (in KR's prior term, `student_features - knowledge`).
        tau: Scalar threshold.
        boost: Gradient multiplier for dominant entries (`|r| > tau`).
        floor: Gradient multiplier for inactive entries (`|r| <= tau`).

    Returns:
        A tensor equal to `x`.

    Example:

    >>> x = tf.constant([1.0, -2.0, 0.1])
    >>> with tf.GradientTape() as tape:
    ...     tape.watch(x)
    ...     loss = tf.reduce_sum(sparse_recode(x, x, tf.constant(0.5)))
    >>> tape.gradient(loss, x).numpy()
    array([2., 2., 0.], dtype=float32)
    """
    active = tf.abs(tf.cast(residual, tf.float32)) > tf.cast(tau, tf.float32)
    return recode_by_mask(x, active, boost, floor)


def recode_by_mask(x, active, boost=2.0, floor=0.0):
    """Identity on `x` whose gradient is `dy * where(active, boost, floor)`.

    `sparse_recode` with the mask computed (`kr_keras.layers.SparseRecoding.active`).

    Args:
        x: Tensor to pass through.
        active: Boolean tensor broadcastable to `x`: the dominant entries.
        boost: Gradient multiplier where `active`.
        floor: Gradient multiplier elsewhere.

    Returns:
        A tensor equal to `x`.

    Example:

    >>> x = tf.constant([1.0, -2.0, 0.1])
    >>> with tf.GradientTape() as tape:
    ...     tape.watch(x)
    ...     loss = tf.reduce_sum(recode_by_mask(x, tf.abs(x) > 0.5))
    >>> tape.gradient(loss, x).numpy()
    array([2., 2., 0.], dtype=float32)
    """
    boost = float(boost)
    floor = float(floor)
    active = tf.stop_gradient(active)

    @tf.custom_gradient
    def _recode(x):
        def grad(dy):
            return recode_gradient(dy, active, boost, floor)

        return tf.identity(x), grad

    return _recode(x)


def recode_gradient(dy, active, boost=2.0, floor=0.0):
    """SRP's backward pass: `dy` times `boost` where `active`, else `floor`.

    Example:

    >>> recode_gradient(tf.constant([1.0, 3.0]), tf.constant([True, False])).numpy()
    array([2., 0.], dtype=float32)
    """
    return dy * tf.cast(tf.where(active, boost, floor), dy.dtype)


def recoding_alignment(gradients, actives, boost=2.0, floor=0.0):
    """`(cosine, norm_ratio)` of SRP's recoded gradient against the dense one.

    Over all entries of `gradients` (a tensor or a list); cosine 1 is a pure rescaling.

    Example:

    >>> g = tf.constant([1.0, 1.0])
    >>> [round(float(v), 3) for v in recoding_alignment(g, tf.constant([True, False]))]
    [0.707, 1.414]
    """
    dense = tf.concat([tf.reshape(tf.cast(g, tf.float32), [-1])
                       for g in tf.nest.flatten(gradients)], 0)
    mask = tf.concat([tf.reshape(a, [-1]) for a in tf.nest.flatten(actives)], 0)
    recoded = recode_gradient(dense, mask, boost, floor)
    dense_norm, recoded_norm = tf.norm(dense), tf.norm(recoded)
    cosine = tf.math.divide_no_nan(tf.reduce_sum(dense * recoded), dense_norm * recoded_norm)
    return cosine, tf.math.divide_no_nan(recoded_norm, dense_norm)


def inactive_fraction(residual, tau):
    """`mean(|residual| <= tau)` in float32: the fraction SRP filters."""
    residual = tf.abs(tf.cast(residual, tf.float32))
    return tf.reduce_mean(tf.cast(residual <= tf.cast(tau, tf.float32), tf.float32))


def track_threshold(tau, fraction_inactive, target_inactive=0.5, rate=0.05):
    """One step of SRP's threshold rule: `tau * exp(-rate * (f - target))`.

    Gradient descent on `log(tau)` of the quantile loss (docs/method.md, "The threshold rule").

    Args:
        tau: Current threshold (positive scalar tensor).
        fraction_inactive: `mean(|residual| <= tau)` of the current batch
            (averaged over replicas by the caller under `tf.distribute`).
        target_inactive: The quantile to track, in `[0, 1]`.
        rate: Step size in log space; 0 freezes `tau`.

    Returns:
        The next threshold, a float32 scalar tensor.

    Example:

    >>> tau = tf.constant(1.0)
    >>> float(track_threshold(tau, 1.0, target_inactive=0.5, rate=0.1))  # too many inactive
    0.951229...
    """
    step = tf.cast(fraction_inactive, tf.float32) - float(target_inactive)
    return tf.cast(tau, tf.float32) * tf.exp(-float(rate) * step)

