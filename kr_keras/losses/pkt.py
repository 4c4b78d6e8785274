"""Probabilistic knowledge transfer (PKT): match similarity distributions.

Reference: Passalis and Tefas, "Learning Deep Representations with
Probabilistic Knowledge Transfer", ECCV 2018 (with the cosine-similarity
kernel); RepDistiller `distiller_zoo/PKT.py` (the authors' code),
whose form is followed here, and its `train_student.py` (tap `feat[-1]`, the
pooled embedding; `-b 30000`).
"""

import keras
import tensorflow as tf

from kr_keras.models.tap import pooled_feature_name

DEFAULTS = {"weight": 30000.0}
_EPS = 1e-7


def _conditional(feature):
    f = tf.cast(feature, tf.float32)
    f = tf.reshape(f, [tf.shape(f)[0], -1])
    f = f / (tf.norm(f, axis=1, keepdims=True) + _EPS)
    f = tf.where(tf.math.is_nan(f), tf.zeros_like(f), f)
    similarity = (tf.matmul(f, f, transpose_b=True) + 1.0) / 2.0
    return similarity / tf.reduce_sum(similarity, axis=1, keepdims=True)


def pkt_loss(f_s, f_t):
    """`mean(P_t * log((P_t + eps) / (P_s + eps)))`, `eps = 1e-7`.

    `P[i, j]` is the cosine similarity of samples `i` and `j` shifted to
    `[0, 1]` and normalised per row (a distribution over the batch); the
    mean runs over all `batch**2` entries, as the reference's.

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
class ProbabilisticKnowledgeTransfer(keras.distillation.DistillationLoss):
    """PKT as a `keras.distillation.DistillationLoss`.

    `compute_loss(teacher_embedding, student_embedding)` returns
    `pkt_loss(student_embedding, teacher_embedding)`; the method weight
    (30000, `DEFAULTS`) is given through the distiller.

    Args:
        teacher_layer_name: Name of the teacher layer to tap.
        student_layer_name: Name of the student layer to tap.

    Example:

    ```python
    distiller = keras.distillation.Distiller(
        teacher, student,
        distillation_losses=[
            kr_keras.losses.ProbabilisticKnowledgeTransfer("pool", "pool")],
        distillation_loss_weights=[30000.0])
    ```
    """

    def __init__(self, teacher_layer_name, student_layer_name):
        self.teacher_layer_name = teacher_layer_name
        self.student_layer_name = student_layer_name

    def validate_model_compatibility(self, teacher, student):
        teacher.get_layer(self.teacher_layer_name)
        student.get_layer(self.student_layer_name)

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        return pkt_loss(student_outputs, teacher_outputs)

    def get_config(self):
        return {
            "teacher_layer_name": self.teacher_layer_name,
            "student_layer_name": self.student_layer_name,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def build_losses(teacher, student, weight=DEFAULTS["weight"]):
    """RepDistiller's PKT: one loss on the pooled embeddings (`feat[-1]`)."""
    loss = ProbabilisticKnowledgeTransfer(pooled_feature_name(teacher),
                                          pooled_feature_name(student))
    return [loss], [weight]
