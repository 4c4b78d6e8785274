"""Hinton knowledge distillation (soft targets with a temperature).

Reference: Hinton, Vinyals and Dean, "Distilling the Knowledge in a Neural
Network", 2015 (paper ref. [11]); RepDistiller `distiller_zoo/KD.py`
(`DistillKL`).
"""

import keras
import tensorflow as tf


def kd_loss(teacher_logits, student_logits, temperature=4.0):
    """`KL(softmax(t/T) || softmax(s/T)) * T**2`, averaged over the batch.

    Args:
        teacher_logits: `[batch, classes]` teacher logits.
        student_logits: `[batch, classes]` student logits.
        temperature: Softening temperature `T` (> 0).

    Returns:
        A scalar float32 tensor.

    Example:

    >>> logits = tf.constant([[1.0, 2.0, 3.0]])
    >>> float(kd_loss(logits, logits, temperature=4.0))
    0.0
    """
    if temperature <= 0:
        raise ValueError(
            f"`temperature` must be > 0. Received: temperature={temperature}"
        )
    t = tf.cast(teacher_logits, tf.float32) / temperature
    s = tf.cast(student_logits, tf.float32) / temperature
    p_teacher = tf.nn.softmax(t, axis=-1)
    kl = tf.reduce_sum(
        p_teacher * (tf.nn.log_softmax(t, axis=-1) - tf.nn.log_softmax(s, axis=-1)),
        axis=-1,
    )
    return tf.reduce_mean(kl) * temperature**2


@keras.saving.register_keras_serializable(package="kr_keras")
class KD(keras.distillation.LogitsDistillation):
    """Hinton KD as a `keras.distillation.DistillationLoss`.

    A `keras.distillation.LogitsDistillation` with KL divergence and the
    temperature RepDistiller uses on CIFAR (T = 4), so it plugs into both
    `keras.distillation.Distiller(distillation_losses=...)` and
    `kr_keras.KRDistiller(posterior=...)`. Its value equals
    `kd_loss(teacher_logits, student_logits, temperature)` up to Keras'
    probability clipping (1e-7).

    Note: `keras.distillation.LogitsDistillation(loss="kl_divergence")` (its
    default) resolves the string to the *function* `keras.losses.kl_divergence`,
    so its KL special case (softmax, then `T**2`) is skipped and the KL is
    taken of the raw scaled logits (Keras 3.12-3.15). `KD` passes a
    `keras.losses.KLDivergence()` instance, which takes the intended path.

    Args:
        temperature: Softening temperature (default 4.0, RepDistiller's).
        loss: The loss on softened outputs; defaults to
            `keras.losses.KLDivergence()`.

    Example:

    >>> kd = KD(temperature=4.0)
    >>> logits = tf.constant([[1.0, 2.0, 3.0]])
    >>> float(kd.compute_loss(logits, logits))
    0.0
    """

    def __init__(self, temperature=4.0, loss=None):
        if loss is None or loss == "kl_divergence":
            # reduction="none": LogitsDistillation averages the per-example
            # values itself; a reducing Keras loss would also scale by
            # 1/replicas under tf.distribute, on top of the distiller's own
            # replica scaling (docs/scaling.md).
            loss = keras.losses.KLDivergence(reduction="none")
        super().__init__(temperature=temperature, loss=loss)
