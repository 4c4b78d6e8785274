"""Hinton knowledge distillation (soft targets with a temperature).

Reference: Hinton, Vinyals and Dean, "Distilling the Knowledge in a Neural
Network", 2015 (paper ref. [11]); RepDistiller `distiller_zoo/KD.py`
(`DistillKL`). Defaults: docs/methods.md, "Methods".
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
    """Hinton KD as a `keras.distillation.LogitsDistillation`.

    `compute_loss` is `kd_loss` of the float32 logits, up to Keras'
    probability clipping (1e-7). The default loss is a `KLDivergence`
    instance: the string "kl_divergence" skips the softmax and `T**2`
    (docs/methods.md, "Inside keras.distillation.Distiller").

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
