"""Hinton knowledge distillation (soft targets with a temperature).

Reference: Hinton, Vinyals and Dean, "Distilling the Knowledge in a Neural
Network", 2015 (paper ref. [11]); RepDistiller `distiller_zoo/KD.py`
(`DistillKL`). Defaults: RepDistiller's CIFAR run (`-r 0.1 -a 0.9`,
`--kd_T 4`): `0.1 * CE + 0.9 * KD`, `T = 4`; the `T**2` factor is Hinton's.
"""

import keras
import tensorflow as tf

from kr_keras.losses.common import scale_for_replicas

DEFAULTS = {"temperature": 4.0, "student_loss_weight": 0.1,
            "distillation_loss_weight": 0.9}


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
    temperature RepDistiller uses on CIFAR (T = 4), so it plugs into
    `keras.distillation.Distiller(distillation_losses=...)`,
    `kr_keras.distillers.Distiller` and `kr_keras.KRDistiller(posterior=...)`.
    `compute_loss` takes the logits in float32 and returns
    `kd_loss(teacher_logits, student_logits, temperature)` (up to Keras'
    probability clipping, 1e-7) divided by the replicas in sync, as Keras'
    reducing losses are (`kr_keras.losses.common`).

    Note: `keras.distillation.LogitsDistillation(loss="kl_divergence")` (its
    default) resolves the string to the *function* `keras.losses.kl_divergence`,
    so its KL special case (softmax, then `T**2`) is skipped and the KL is
    taken of the raw scaled logits (Keras 3.12-3.15). `KD` passes a
    `keras.losses.KLDivergence(reduction="none")` instance, which takes the
    intended path without a second replica scaling.

    Args:
        temperature: Softening temperature (default 4.0, RepDistiller's).
        loss: The loss on softened outputs; defaults to
            `keras.losses.KLDivergence(reduction="none")`.

    Example:

    >>> kd = KD(temperature=4.0)
    >>> logits = tf.constant([[1.0, 2.0, 3.0]])
    >>> float(kd.compute_loss(logits, logits))
    0.0
    """

    def __init__(self, temperature=4.0, loss=None):
        if loss is None or loss == "kl_divergence":
            loss = keras.losses.KLDivergence(reduction="none")
        super().__init__(temperature=temperature, loss=loss)

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        return scale_for_replicas(super().compute_loss(
            tf.cast(teacher_outputs, tf.float32), tf.cast(student_outputs, tf.float32)
        ))


def build_losses(teacher, student, temperature, distillation_loss_weight):
    """`([KD(temperature)], [distillation_loss_weight])`: the logits alone,
    so "kd" takes no tap arguments."""
    del teacher, student
    return [KD(temperature=temperature)], [distillation_loss_weight]
