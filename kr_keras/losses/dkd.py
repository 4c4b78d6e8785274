"""Decoupled KD (DKD): target-class and non-target-class KL, weighed apart.

Reference: Zhao, Cui, Song, Qiu and Liang, "Decoupled Knowledge
Distillation", CVPR 2022; mdistiller `mdistiller/distillers/DKD.py`, whose
form is followed. Logits only. Defaults and warm-up: docs/methods_zoo.md, "DKD".
"""

import keras
import tensorflow as tf

from kr_keras.losses.common import epochs_of_run
from kr_keras.losses.common import scale_for_replicas

DEFAULTS = {"alpha": 1.0, "beta": 8.0, "temperature": 4.0, "warmup_epochs": 20 / 240,
            "student_loss_weight": 1.0, "distillation_loss_weight": 1.0}


def _kl(p, log_q):
    """`sum p (log p - log q)` per row, with `0 log 0 = 0` (torch's kl_div)."""
    return tf.reduce_sum(tf.math.xlogy(p, p) - tf.math.multiply_no_nan(log_q, p), axis=1)


def dkd_loss(student_logits, teacher_logits, labels, alpha=1.0, beta=8.0,
             temperature=4.0):
    """`alpha * TCKD + beta * NCKD`, each `KL * T**2`, batch mean; no warm-up.

    Args:
        student_logits: `[batch, classes]` student logits.
        teacher_logits: `[batch, classes]` teacher logits.
        labels: `[batch]` (or `[batch, 1]`) class ids, or one-hot
            `[batch, classes]`.
        alpha: TCKD weight (1).
        beta: NCKD weight (8).
        temperature: `T` (4).

    Returns:
        A scalar float32 tensor.

    Example:

    >>> logits = tf.constant([[1.0, 2.0, 3.0]])
    >>> round(float(dkd_loss(logits, logits, tf.constant([2]))), 4)
    0.0
    """
    if temperature <= 0:
        raise ValueError(f"`temperature` must be > 0. Received: temperature={temperature}")
    s = tf.cast(student_logits, tf.float32) / temperature
    t = tf.cast(teacher_logits, tf.float32) / temperature
    labels = tf.convert_to_tensor(labels)
    if labels.shape.rank == 2 and labels.shape[-1] not in (1, None):  # one-hot
        labels = tf.argmax(labels, axis=-1)
    gt = tf.one_hot(tf.reshape(tf.cast(labels, tf.int32), [-1]),
                    tf.shape(s)[-1], dtype=tf.float32)
    b_t, b_s = [tf.stack([tf.reduce_sum(p * gt, 1), tf.reduce_sum(p * (1.0 - gt), 1)], 1)
                for p in (tf.nn.softmax(t, axis=1), tf.nn.softmax(s, axis=1))]
    tckd = _kl(b_t, tf.math.log(b_s))
    nckd = _kl(tf.nn.softmax(t - 1000.0 * gt, axis=1),
               tf.nn.log_softmax(s - 1000.0 * gt, axis=1))
    return tf.reduce_mean(alpha * tckd + beta * nckd) * temperature**2


@keras.saving.register_keras_serializable(package="kr_keras")
class DecoupledKnowledgeDistillation(keras.distillation.DistillationLoss):
    """DKD on the logits as a `keras.distillation.DistillationLoss`.

    `compute_loss(teacher_logits, student_logits, labels=y, epoch=None)` is
    `min(epoch / warmup, 1) * dkd_loss(...)` (1-based `epoch`; factor 1
    without it). kr_keras' `Distiller` passes `labels=`, `epoch=` and, to
    `set_run_epochs`, fit's `epochs`.

    Args:
        alpha: TCKD weight (1).
        beta: NCKD weight (8).
        temperature: `T` (4).
        warmup_epochs: Epochs of the linear warm-up (an int; 0: none), or a
            fraction in (0, 1) of the run (default 20 / 240: 20 epochs of
            240, mdistiller's; of 240 until `set_run_epochs` is called).

    Example:

    ```python
    dkd = kr_keras.losses.DecoupledKnowledgeDistillation()
    loss = dkd.compute_loss(teacher_logits, student_logits, labels=y)
    ```
    """

    teacher_layer_name = None
    student_layer_name = None

    def __init__(self, alpha=1.0, beta=8.0, temperature=4.0, warmup_epochs=20 / 240):
        if temperature <= 0 or warmup_epochs < 0:
            raise ValueError(
                "`temperature` must be > 0 and `warmup_epochs` >= 0. Received: "
                f"temperature={temperature}, warmup_epochs={warmup_epochs}")
        self.alpha, self.beta, self.temperature = float(alpha), float(beta), float(temperature)
        fraction = isinstance(warmup_epochs, float) and 0 < warmup_epochs < 1
        self.warmup_epochs = warmup_epochs if fraction else int(warmup_epochs)
        self.warmup = tf.Variable(float(epochs_of_run(self.warmup_epochs, 240)),
                                  trainable=False, name="dkd_warmup")

    def set_run_epochs(self, epochs):
        """Resolves a fractional `warmup_epochs` against fit's `epochs`."""
        self.warmup.assign(float(epochs_of_run(self.warmup_epochs, epochs)))

    def compute_loss(self, teacher_outputs, student_outputs, labels=None,
                     epoch=None, **kwargs):
        if labels is None:
            raise ValueError(
                "DKD needs the ground-truth labels: call compute_loss with "
                "`labels=` (kr_keras' generic distiller passes them). "
                "Received: labels=None")
        loss = dkd_loss(student_outputs, teacher_outputs, labels, self.alpha, self.beta,
                        self.temperature)
        if epoch is not None and self.warmup_epochs:
            loss *= tf.minimum(tf.cast(epoch, tf.float32) / self.warmup, 1.0)
        return scale_for_replicas(loss)

    def get_config(self):
        return {"alpha": self.alpha, "beta": self.beta, "temperature": self.temperature,
                "warmup_epochs": self.warmup_epochs}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def build_losses(teacher, student, alpha, beta, temperature, warmup_epochs,
                 distillation_loss_weight):
    """mdistiller's DKD: one loss on the logits."""
    del teacher, student
    return ([DecoupledKnowledgeDistillation(alpha, beta, temperature, warmup_epochs)],
            [distillation_loss_weight])
