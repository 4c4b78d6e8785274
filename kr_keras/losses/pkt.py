"""Probabilistic knowledge transfer (PKT): match similarity distributions.

Reference: Passalis and Tefas, "Learning Deep Representations with
Probabilistic Knowledge Transfer", ECCV 2018; RepDistiller
`distiller_zoo/PKT.py` (the authors' code) and `train_student.py`, whose
form is followed: docs/methods_zoo.md, "PKT".
"""

import keras
import tensorflow as tf

from kr_keras.losses.common import TappedLoss
from kr_keras.losses.common import flatten
from kr_keras.losses.common import global_batch
from kr_keras.losses.common import paired_losses
from kr_keras.losses.common import scale_for_replicas

DEFAULTS = {"teacher_layers": None, "student_layers": None, "student_loss_weight": 1.0,
            "distillation_loss_weight": 30000.0}
_EPS = 1e-7


def _conditional(feature):
    f = flatten(feature)
    f = f / (tf.norm(f, axis=1, keepdims=True) + _EPS)
    f = tf.where(tf.math.is_nan(f), tf.zeros_like(f), f)
    similarity = (tf.matmul(f, f, transpose_b=True) + 1.0) / 2.0
    return similarity / tf.reduce_sum(similarity, axis=1, keepdims=True)


def pkt_loss(f_s, f_t):
    """`mean(P_t * log((P_t + eps) / (P_s + eps)))`, `eps = 1e-7`.

    `P[i, j]`: the cosine similarity of samples `i` and `j` shifted to
    `[0, 1]`, normalised per row; the mean runs over all `batch**2` entries.

    Args:
        f_s: `[batch, ...]` student embedding.
        f_t: `[batch, ...]` teacher embedding (any width).

    Returns:
        A scalar float32 tensor.

    Example:

    >>> f = tf.random.normal([4, 8])
    >>> float(pkt_loss(f, f))
    0.0
    """
    p_s, p_t = _conditional(f_s), _conditional(f_t)
    return tf.reduce_mean(p_t * tf.math.log((p_t + _EPS) / (p_s + _EPS)))


@keras.saving.register_keras_serializable(package="kr_keras")
class ProbabilisticKnowledgeTransfer(TappedLoss):
    """`pkt_loss` of one tapped pair as a `keras.distillation.DistillationLoss`.

    Args:
        teacher_layer_name: The teacher's pooled embedding layer.
        student_layer_name: The student's pooled embedding layer.

    Example:

    >>> pkt = ProbabilisticKnowledgeTransfer("pool", "pool")
    >>> f = tf.random.normal([4, 8])
    >>> float(pkt.compute_loss(f, f))
    0.0
    """

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        return scale_for_replicas(pkt_loss(global_batch(student_outputs),
                                           global_batch(teacher_outputs)))


def build_losses(teacher, student, teacher_layers, student_layers, distillation_loss_weight):
    """RepDistiller's PKT: the pooled embeddings (`feat[-1]`) by default."""
    return paired_losses(ProbabilisticKnowledgeTransfer, distillation_loss_weight, "PKT",
                         teacher, student, teacher_layers, student_layers,
                         kind="embedding", rank=None)
