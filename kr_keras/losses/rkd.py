"""Relational KD (RKD): match pairwise distances and triplet angles.

Reference: Park, Kim, Lu and Cho, "Relational Knowledge Distillation",
CVPR 2019; RepDistiller `distiller_zoo/RKD.py` (`RKDLoss`) and
`train_student.py`, whose form is followed: docs/methods_zoo.md, "RKD".
"""

import keras
import tensorflow as tf

from kr_keras.losses.common import TappedLoss
from kr_keras.losses.common import flatten
from kr_keras.losses.common import global_batch
from kr_keras.losses.common import paired_losses
from kr_keras.losses.common import scale_for_replicas

DEFAULTS = {"teacher_layers": None, "student_layers": None, "distance_weight": 25.0,
            "angle_weight": 50.0, "student_loss_weight": 1.0,
            "distillation_loss_weight": 1.0}


def _distances(e):
    """Euclidean distances, clamped at 1e-12 before the root, diagonal 0."""
    # The reference expands |a|^2 + |b|^2 - 2ab; the difference form is the
    # same value, but exactly 0 for identical samples (no rounding noise).
    d2 = tf.reduce_sum(tf.square(e[:, None, :] - e[None, :, :]), axis=2)
    d = tf.sqrt(tf.maximum(d2, 1e-12))
    d = d * (1.0 - tf.eye(tf.shape(e)[0]))
    # Divided by the mean of the non-zero distances (the paper's mu).
    positive = tf.reduce_sum(tf.cast(d > 0, tf.float32))
    return d / (tf.reduce_sum(d) / positive)


def _angles(e):
    """`cos` of the angle at `i` between `e_j - e_i` and `e_k - e_i`."""
    diff = tf.math.l2_normalize(e[None, :, :] - e[:, None, :], axis=2,
                                epsilon=1e-24)
    return tf.einsum("ijd,ikd->ijk", diff, diff)


def _smooth_l1(a, b):
    delta = tf.abs(a - b)
    return tf.reduce_mean(tf.where(delta < 1.0, 0.5 * tf.square(delta),
                                   delta - 0.5))


def rkd_loss(f_s, f_t, distance_weight=25.0, angle_weight=50.0):
    """`w_d * huber(psi_D(s), psi_D(t)) + w_a * huber(psi_A(s), psi_A(t))`.

    `psi_D`: the batch's pairwise distances over their non-zero mean;
    `psi_A`: cosines of all triplet angles; Huber delta 1. No gradient
    through the teacher side.

    Args:
        f_s: `[batch, ...]` student embedding.
        f_t: `[batch, ...]` teacher embedding (any width).
        distance_weight: `w_d` (25).
        angle_weight: `w_a` (50).

    Returns:
        A scalar float32 tensor.

    Example:

    >>> f = tf.random.normal([4, 8])
    >>> float(rkd_loss(f, f))
    0.0
    """
    s, t = flatten(f_s), tf.stop_gradient(flatten(f_t))
    loss_d = _smooth_l1(_distances(s), _distances(t))
    loss_a = _smooth_l1(_angles(s), _angles(t))
    return distance_weight * loss_d + angle_weight * loss_a


@keras.saving.register_keras_serializable(package="kr_keras")
class RelationalKnowledgeDistillation(TappedLoss):
    """`rkd_loss` of one tapped pair as a `keras.distillation.DistillationLoss`.

    Args:
        teacher_layer_name: Name of the teacher layer to tap.
        student_layer_name: Name of the student layer to tap.
        distance_weight: `w_d` (25).
        angle_weight: `w_a` (50).

    Example:

    ```python
    rkd = kr_keras.losses.RelationalKnowledgeDistillation("pool", "pool")
    distiller = keras.distillation.Distiller(teacher, student, [rkd], [1.0])
    ```
    """

    CONFIG = ("distance_weight", "angle_weight")

    def __init__(self, teacher_layer_name, student_layer_name,
                 distance_weight=25.0, angle_weight=50.0):
        for name, value in (("distance_weight", distance_weight),
                            ("angle_weight", angle_weight)):
            if value < 0:
                raise ValueError(f"`{name}` must be >= 0. Received: {name}={value}")
        super().__init__(teacher_layer_name, student_layer_name)
        self.distance_weight = float(distance_weight)
        self.angle_weight = float(angle_weight)

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        return scale_for_replicas(rkd_loss(global_batch(student_outputs),
                                           global_batch(teacher_outputs),
                                           self.distance_weight, self.angle_weight))


def build_losses(teacher, student, teacher_layers, student_layers, distance_weight,
                 angle_weight, distillation_loss_weight):
    """RepDistiller's RKD: the pooled embeddings (`feat[-1]`) by default."""
    return paired_losses(
        lambda t, s: RelationalKnowledgeDistillation(t, s, distance_weight, angle_weight),
        distillation_loss_weight, "RKD", teacher, student, teacher_layers, student_layers,
        kind="embedding", rank=None)
