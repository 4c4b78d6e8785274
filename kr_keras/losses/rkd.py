"""Relational KD (RKD): match pairwise distances and triplet angles.

Reference: Park, Kim, Lu and Cho, "Relational Knowledge Distillation",
CVPR 2019 (its distance-wise and angle-wise losses);
RepDistiller `distiller_zoo/RKD.py` (`RKDLoss`, w_d = 25, w_a = 50), whose
form is followed here, and its `train_student.py` (tap `feat[-1]`, the
pooled embedding; `-b 1`).
"""

import keras
import tensorflow as tf

from kr_keras.models.tap import pooled_feature_name

DEFAULTS = {"weight": 1.0, "distance_weight": 25.0, "angle_weight": 50.0}


def _flat(feature):
    f = tf.cast(feature, tf.float32)
    return tf.reshape(f, [tf.shape(f)[0], -1])


def _distances(e):
    """Euclidean distances, clamped at 1e-12 before the root, diagonal 0."""
    sq = tf.reduce_sum(tf.square(e), axis=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * tf.matmul(e, e, transpose_b=True)
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

    `psi_D`: pairwise distances over the batch, each divided by the mean
    non-zero distance; `psi_A`: cosines of all triplet angles, from the
    L2-normalised difference vectors. Both terms use the smooth L1 (Huber,
    delta 1) mean. The teacher side carries no gradient.

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
    s, t = _flat(f_s), tf.stop_gradient(_flat(f_t))
    loss_d = _smooth_l1(_distances(s), _distances(t))
    loss_a = _smooth_l1(_angles(s), _angles(t))
    return distance_weight * loss_d + angle_weight * loss_a


@keras.saving.register_keras_serializable(package="kr_keras")
class RelationalKnowledgeDistillation(keras.distillation.DistillationLoss):
    """RKD as a `keras.distillation.DistillationLoss`.

    `compute_loss(teacher_embedding, student_embedding)` returns
    `rkd_loss(student_embedding, teacher_embedding, w_d, w_a)`; the method
    weight (1, `DEFAULTS`) is given through the distiller.

    Args:
        teacher_layer_name: Name of the teacher layer to tap.
        student_layer_name: Name of the student layer to tap.
        distance_weight: `w_d` (25).
        angle_weight: `w_a` (50).

    Example:

    ```python
    distiller = keras.distillation.Distiller(
        teacher, student,
        distillation_losses=[
            kr_keras.losses.RelationalKnowledgeDistillation("pool", "pool")],
        distillation_loss_weights=[1.0])
    ```
    """

    def __init__(self, teacher_layer_name, student_layer_name,
                 distance_weight=25.0, angle_weight=50.0):
        for name, value in (("distance_weight", distance_weight),
                            ("angle_weight", angle_weight)):
            if value < 0:
                raise ValueError(f"`{name}` must be >= 0. Received: {name}={value}")
        self.teacher_layer_name = teacher_layer_name
        self.student_layer_name = student_layer_name
        self.distance_weight = float(distance_weight)
        self.angle_weight = float(angle_weight)

    def validate_model_compatibility(self, teacher, student):
        teacher.get_layer(self.teacher_layer_name)
        student.get_layer(self.student_layer_name)

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        return rkd_loss(student_outputs, teacher_outputs,
                        self.distance_weight, self.angle_weight)

    def get_config(self):
        return {
            "teacher_layer_name": self.teacher_layer_name,
            "student_layer_name": self.student_layer_name,
            "distance_weight": self.distance_weight,
            "angle_weight": self.angle_weight,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def build_losses(teacher, student, weight=DEFAULTS["weight"],
                 distance_weight=DEFAULTS["distance_weight"],
                 angle_weight=DEFAULTS["angle_weight"]):
    """RepDistiller's RKD: one loss on the pooled embeddings (`feat[-1]`)."""
    loss = RelationalKnowledgeDistillation(
        pooled_feature_name(teacher), pooled_feature_name(student),
        distance_weight, angle_weight)
    return [loss], [weight]
