"""Correlation congruence (CC): match correlations between instances.

Reference: Peng, Jin, Liu, Li, Wu, Liu, Zhou and Zhang, "Correlation
Congruence for Knowledge Distillation", ICCV 2019; RepDistiller
`distiller_zoo/CC.py` (`Correlation`), `models/util.py` (`LinearEmbed`)
and `train_student.py`, whose form (not the paper's kernel correlation
matrix) is followed: docs/methods_zoo.md, "CC".
"""

import keras
import tensorflow as tf

from kr_keras.losses.common import HelperLoss
from kr_keras.losses.common import build_embeddings
from kr_keras.losses.common import flatten
from kr_keras.losses.common import global_batch
from kr_keras.losses.common import paired_losses
from kr_keras.losses.common import scale_for_replicas

DEFAULTS = {"teacher_layers": None, "student_layers": None, "feat_dim": 128,
            "student_loss_weight": 1.0, "distillation_loss_weight": 0.02}


def cc_loss(f_s, f_t):
    """`mean_i sum_d |s_i - t_i|_d * |s_(i+1) - t_(i+1)|_d` (RepDistiller).

    Args:
        f_s: `[batch, dim]` embedded student features.
        f_t: `[batch, dim]` embedded teacher features.

    Returns:
        A scalar float32 tensor.

    Example:

    >>> f = tf.random.normal([4, 8])
    >>> float(cc_loss(f, f))
    0.0
    """
    delta = tf.abs(tf.cast(f_s, tf.float32) - tf.cast(f_t, tf.float32))
    return tf.reduce_mean(tf.reduce_sum(delta[:-1] * delta[1:], axis=1))


@keras.saving.register_keras_serializable(package="kr_keras")
class CorrelationCongruence(HelperLoss):
    """`cc_loss` of two trainable embeddings of the taps, which it owns.

    Args:
        teacher_layer_name: Name of the teacher layer to tap.
        student_layer_name: Name of the student layer to tap.
        feat_dim: Width of the `Dense` embeddings (128).
        **kwargs: Base layer keyword arguments.

    Example:

    ```python
    cc = kr_keras.losses.CorrelationCongruence("pool", "pool")
    distiller = keras.distillation.Distiller(teacher, student, [cc], [0.02])
    ```
    """

    CONFIG = ("feat_dim",)

    def __init__(self, teacher_layer_name, student_layer_name, feat_dim=128, **kwargs):
        if int(feat_dim) < 1:
            raise ValueError(f"`feat_dim` must be >= 1. Received: feat_dim={feat_dim}")
        super().__init__(teacher_layer_name, student_layer_name, **kwargs)
        self.feat_dim = int(feat_dim)

    def build_helpers(self, teacher_shape, student_shape):
        build_embeddings(self, self.feat_dim, teacher_shape, student_shape)

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        return scale_for_replicas(cc_loss(global_batch(self.embed_s(flatten(student_outputs))),
                                          global_batch(self.embed_t(flatten(teacher_outputs)))))


def build_losses(teacher, student, teacher_layers, student_layers, feat_dim,
                 distillation_loss_weight):
    """RepDistiller's CC: embedded pooled features (`feat[-1]`) by default."""
    return paired_losses(lambda t, s: CorrelationCongruence(t, s, feat_dim),
                         distillation_loss_weight, "CC", teacher, student, teacher_layers,
                         student_layers, kind="embedding", rank=None)
