"""Similarity-preserving KD (SP): match the batch's pairwise similarities.

Reference: Tung and Mori, "Similarity-Preserving Knowledge Distillation",
ICCV 2019; RepDistiller `distiller_zoo/SP.py` (`Similarity`) and
`train_student.py`, whose form is followed: docs/methods_zoo.md, "SP".
"""

import keras
import tensorflow as tf

from kr_keras.losses.common import TappedLoss
from kr_keras.losses.common import flatten
from kr_keras.losses.common import global_batch
from kr_keras.losses.common import paired_losses
from kr_keras.losses.common import scale_for_replicas

DEFAULTS = {"teacher_layers": None, "student_layers": None, "student_loss_weight": 1.0,
            "distillation_loss_weight": 3000.0}


def _gram(feature):
    f = flatten(feature)
    # F.normalize(G): each row divided by max(||row||, 1e-12).
    return tf.math.l2_normalize(tf.matmul(f, f, transpose_b=True), axis=1,
                                epsilon=1e-24)


def sp_loss(f_s, f_t):
    """`sum((G_t - G_s)**2) / batch**2` of the row-normalised batch Grams.

    `G = f f^T` of the flattened maps, so maps of any shape compare.

    Args:
        f_s: `[batch, ...]` student map.
        f_t: `[batch, ...]` teacher map.

    Returns:
        A scalar float32 tensor.

    Example:

    >>> f = tf.random.normal([4, 2, 2, 3])
    >>> float(sp_loss(f, f))
    0.0
    """
    g_s, g_t = _gram(f_s), _gram(f_t)
    batch = tf.cast(tf.shape(g_s)[0], tf.float32)
    return tf.reduce_sum(tf.square(g_t - g_s)) / (batch * batch)


@keras.saving.register_keras_serializable(package="kr_keras")
class SimilarityPreserving(TappedLoss):
    """`sp_loss` of one tapped pair as a `keras.distillation.DistillationLoss`.

    Args:
        teacher_layer_name: The teacher map's layer (any shape).
        student_layer_name: The student map's layer (any shape).

    Example:

    ```python
    sp = kr_keras.losses.SimilarityPreserving("stage3_block3_out", "stage3_block1_out")
    distiller = kr_keras.distillers.Distiller(teacher, student, [sp], [3000.0])
    ```
    """

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        return scale_for_replicas(sp_loss(global_batch(student_outputs),
                                          global_batch(teacher_outputs)))


def build_losses(teacher, student, teacher_layers, student_layers, distillation_loss_weight):
    """One `SimilarityPreserving` per tapped pair (default: the last stage ends)."""
    return paired_losses(SimilarityPreserving, distillation_loss_weight, "SP", teacher,
                         student, teacher_layers, student_layers, kind="last", rank=None)
