"""The sparse recoding penalty (SRP) as a gradient-recoding identity.

Paper: Liu et al., "Knowledge Representing: Efficient, Sparse Representation
of Prior Knowledge for Knowledge Distillation", Sec. 3.2 and 4.1 (Eq. 3-4).
The project's reading of the lost equations is DESIGN.md §2: SRP is an
identity in the forward pass whose backward pass *recodes* the gradient,
boosting it where the residual is large (dominant neurons) and filtering it
to `floor` where the residual is within a learnable threshold `tau`
(inactive neurons get the "equal reward").
"""

import numpy as np
import tensorflow as tf


def sparse_recode(x, residual, tau, boost=2.0, floor=0.0, target_inactive=0.5):
    """Identity on `x` whose gradient is recoded by `|residual| > tau`.

    Forward: `y = x`.
    Backward:
      * `dL/dx = dL/dy * where(|residual| > tau, boost, floor)`;
      * `dL/dtau = fraction_inactive - target_inactive`, where
        `fraction_inactive = mean(|residual| <= tau)`. Gradient descent on
        `tau` therefore makes it track the `target_inactive` quantile of
        `|residual|` (a quantile tracker): it follows the residuals down as
        the student learns, coarse knowledge first and finer later;
      * no gradient to `residual`.

    The mask and the statistics are computed in float32 so that the op is
    safe under mixed precision; the recoded gradient keeps `dy`'s dtype.

    Args:
        x: Tensor to pass through.
        residual: Tensor broadcastable to `x` that decides which entries are
            dominant (in KR's prior term, `student_features - knowledge`).
        tau: Scalar threshold tensor (read it from a variable with
            `tf.convert_to_tensor(variable)` so the gradient reaches it).
        boost: Gradient multiplier for dominant entries (`|r| > tau`).
        floor: Gradient multiplier for inactive entries (`|r| <= tau`).
        target_inactive: Fraction of entries `tau` should keep inactive.

    Returns:
        A tensor equal to `x`.

    Example:

    >>> x = tf.constant([1.0, -2.0, 0.1])
    >>> tau = tf.constant(0.5)
    >>> with tf.GradientTape() as tape:
    ...     tape.watch(x)
    ...     y = sparse_recode(x, x, tau, boost=2.0, floor=0.0)
    ...     loss = tf.reduce_sum(y)
    >>> tape.gradient(loss, x).numpy()
    array([2., 2., 0.], dtype=float32)
    """
    boost = float(boost)
    floor = float(floor)
    target_inactive = float(target_inactive)
    residual = tf.stop_gradient(tf.cast(residual, tf.float32))

    @tf.custom_gradient
    def _recode(x, tau):
        tau32 = tf.cast(tau, tf.float32)
        active = tf.abs(residual) > tau32
        fraction_inactive = 1.0 - tf.reduce_mean(tf.cast(active, tf.float32))

        def grad(dy):
            scale = tf.where(active, boost, floor)
            # `residual` broadcasts to `x`, so `dx` has `x`'s shape.
            dx = dy * tf.cast(scale, dy.dtype)
            dtau = tf.cast(
                tf.fill(tf.shape(tau), fraction_inactive - target_inactive),
                tau.dtype,
            )
            return dx, dtau

        return tf.identity(x), grad

    return _recode(x, tau)


def srp_penalty_curve(r, tau, boost=2.0):
    """The penalty SRP induces on a residual `r`, for plots (paper Fig. 2).

    Integrating the recoded gradient of `r**2 / 2` gives `0` for
    `|r| <= tau` and `boost * (r**2 - tau**2) / 2` beyond it (DESIGN.md §2).

    Args:
        r: Array of residual values.
        tau: Threshold.
        boost: Gradient multiplier beyond the threshold.

    Returns:
        A numpy array of penalty values, shaped like `r`.
    """
    r = np.asarray(r, dtype=np.float64)
    return np.where(np.abs(r) > tau, boost * (r**2 - tau**2) / 2.0, 0.0)
