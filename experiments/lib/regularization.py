"""Penalties on parameters for the paper's Fig. 4/5 (Sec. 4.1): SRP vs L1 / L2 / none.

With SRP each kernel passes through `sparse_recode(w, w, tau)` (the residual
is the weight itself), one `tau` per kernel initialised to `mean(|w|)`.
"""

import keras
import numpy as np
import tensorflow as tf

from kr_keras.ops.sparse_recode import inactive_fraction
from kr_keras.ops.sparse_recode import sparse_recode
from kr_keras.ops.sparse_recode import track_threshold

PENALTIES = ("srp", "l1", "l2", "none")


def _is_kernel(variable):
    return variable.path.endswith("kernel") and len(variable.shape) >= 2


def kernel_values(model, conv_only=True):
    """All (conv) kernel entries of `model` as one flat numpy array."""
    values = [
        np.asarray(v).ravel() for v in model.trainable_weights
        if _is_kernel(v) and (len(v.shape) == 4 or not conv_only)
    ]
    return np.concatenate(values) if values else np.zeros([0])


def near_zero_fraction(values, threshold=1e-2):
    """Fraction of `|values| < threshold`."""
    values = np.asarray(values)
    return float(np.mean(np.abs(values) < threshold)) if values.size else 0.0


def train_with_parameter_penalty(model, dataset, penalty="srp", steps=100, learning_rate=0.01,
                                 momentum=0.9, strength=5e-4, boost=2.0, floor=0.0,
                                 target_inactive=0.5):
    """Trains `model` with cross-entropy plus a parameter penalty.

    Args:
        model: A functional `keras.Model` returning logits (trained in place).
        dataset: A `tf.data.Dataset` of `(images, labels)`; repeated as needed.
        penalty: `"srp"` (kernels through `sparse_recode(w, w, tau)`),
            `"l1"` (`strength * sum|w|`), `"l2"` (`strength * sum w**2`) or
            `"none"`. Penalties act on the kernels of conv/dense layers.
        steps: Training steps.
        learning_rate: SGD learning rate.
        momentum: SGD momentum.
        strength: L1/L2 factor.
        boost: SRP gradient multiplier where `|w| > tau`.
        floor: SRP gradient multiplier where `|w| <= tau`.
        target_inactive: Fraction of kernel entries `tau` keeps inactive.

    Returns:
        A list of the per-step training losses (cross-entropy + penalty).

    Example:

    ```python
    losses = train_with_parameter_penalty(model, ds, "srp", steps=200)
    sparsity = near_zero_fraction(kernel_values(model))
    ```
    """
    if penalty not in PENALTIES:
        raise ValueError(f"Unknown penalty; use one of {PENALTIES}. Received: penalty={penalty!r}")
    trainable = list(model.trainable_variables)
    non_trainable = list(model.non_trainable_variables)
    kernels = [i for i, v in enumerate(trainable) if _is_kernel(v)]
    taus = {
        i: tf.Variable(float(np.mean(np.abs(np.asarray(trainable[i])))), name=f"tau_{i}")
        for i in kernels
    } if penalty == "srp" else {}
    optimizer = keras.optimizers.SGD(learning_rate, momentum=momentum)
    optimizer.build(trainable)
    cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            values = [tf.convert_to_tensor(v) for v in trainable]
            for i, tau in taus.items():
                values[i] = sparse_recode(values[i], values[i], tf.convert_to_tensor(tau),
                                          boost=boost, floor=floor)
            logits, updates = model.stateless_call(
                values, [tf.convert_to_tensor(v) for v in non_trainable], x, training=True)
            loss = cross_entropy(y, logits)
            if penalty == "l1":
                loss += strength * tf.add_n([tf.reduce_sum(tf.abs(values[i])) for i in kernels])
            elif penalty == "l2":
                loss += strength * tf.add_n([tf.reduce_sum(tf.square(values[i])) for i in kernels])
        grads = tape.gradient(loss, trainable)
        optimizer.apply(grads, trainable)
        # SRP's threshold rule (as in `kr_keras.layers.SparseRecoding`).
        for i, tau in taus.items():
            fraction = inactive_fraction(values[i], tau)
            tau.assign(track_threshold(tau, fraction, target_inactive))
        for variable, value in zip(non_trainable, updates):
            variable.assign(value)
        return loss

    losses = []
    for x, y in dataset.repeat().take(steps):
        losses.append(float(step(x, y)))
    return losses


def srp_penalty_curve(r, tau, boost=2.0):
    """The penalty SRP induces on a residual `r` (paper Fig. 2): integrating
    the recoded gradient of `r**2 / 2` gives `0` for `|r| <= tau` and
    `boost * (r**2 - tau**2) / 2` beyond it. A numpy array shaped like `r`."""
    r = np.asarray(r, dtype=np.float64)
    return np.where(np.abs(r) > tau, boost * (r**2 - tau**2) / 2.0, 0.0)
