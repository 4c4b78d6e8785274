"""Decoupled KD (DKD): target-class and non-target-class KL, weighed apart.

Reference: Zhao, Cui, Song, Qiu and Liang, "Decoupled Knowledge
Distillation", CVPR 2022 (KD = TCKD + (1 - p_t) NCKD, with p_t the
teacher's target probability; DKD = alpha TCKD + beta NCKD); mdistiller
`mdistiller/distillers/DKD.py`, whose form is followed here (alpha 1,
beta 8, T 4, CE weight 1; warm-up `min(epoch / 20, 1)` on the DKD term
over 240 epochs, counted from 1). The warm-up defaults to the same share of
the run: `max(1, round(epochs * 20 / 240))` of the `epochs` given to `fit`.
Logits only: DKD takes no taps.
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
    """`alpha * TCKD + beta * NCKD`, each `KL * T**2`, averaged over the batch.

    TCKD: KL between the binary distributions `[p_gt, 1 - p_gt]` of the
    softened teacher and student. NCKD: KL between their distributions over
    the non-target classes, taken as softmaxes with the target logit
    lowered by 1000 (mdistiller's masking). No warm-up factor here.

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

    `compute_loss(teacher_logits, student_logits, labels=y, epoch=None)`
    returns `warm-up * dkd_loss(...)` divided by the replicas in sync, with
    mdistiller's warm-up factor `min(epoch / warmup, 1)` when the caller
    passes the (1-based) `epoch`, else 1. It needs the labels; kr_keras'
    generic `Distiller` passes both (`labels=y`, `epoch=`) and, through
    `set_run_epochs`, fit's `epochs`; `keras.distillation.Distiller` none.

    Args:
        alpha: TCKD weight (1).
        beta: NCKD weight (8; mdistiller uses 2 for ResNet-56/110 teachers).
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
