"""Attention transfer (AT): match normalised spatial attention maps.

Reference: Zagoruyko and Komodakis, "Paying More Attention to Attention:
Improving the Performance of Convolutional Neural Networks via Attention
Transfer", ICLR 2017 (paper ref. [36]); RepDistiller `distiller_zoo/AT.py`
(`Attention`), whose form is followed. Defaults: docs/methods.md, "Methods".
"""

import keras
import tensorflow as tf

from kr_keras.losses.common import TappedLoss
from kr_keras.losses.common import paired_losses
from kr_keras.losses.common import scale_for_replicas
from kr_keras.losses.spatial import match_spatial

DEFAULTS = {"teacher_layers": None, "student_layers": None, "p": 2,
            "student_loss_weight": 1.0, "distillation_loss_weight": 1000.0}


def attention_map(feature, p=2):
    """`normalize(mean_c(|f|**p))`: the L2-normalised `[batch, h*w]` map."""
    f = tf.cast(feature, tf.float32)
    a = tf.reduce_mean(tf.pow(tf.abs(f), p), axis=-1)
    a = tf.reshape(a, [tf.shape(a)[0], -1])
    return tf.math.l2_normalize(a, axis=-1, epsilon=1e-24)


def at_loss(student_feat, teacher_feat, p=2):
    """`mean((Q_s - Q_t)**2)` of the attention maps of two feature maps.

    Args:
        student_feat: `[batch, h, w, c_s]` student map.
        teacher_feat: `[batch, h', w', c_t]` teacher map; the larger map is
            average-pooled to the other's height and width (RepDistiller).
        p: Exponent of the attention map (2, the paper's choice).

    Returns:
        A scalar float32 tensor.

    Example:

    >>> f = tf.random.normal([2, 8, 8, 4])
    >>> float(at_loss(f, f))
    0.0
    """
    if p <= 0:
        raise ValueError(f"`p` must be > 0. Received: p={p}")
    student_feat, teacher_feat = match_spatial(student_feat, teacher_feat)
    diff = attention_map(student_feat, p) - attention_map(teacher_feat, p)
    return tf.reduce_mean(tf.square(diff))


@keras.saving.register_keras_serializable(package="kr_keras")
class AttentionTransfer(TappedLoss):
    """`at_loss` of one tapped pair as a `keras.distillation.DistillationLoss`.

    Args:
        teacher_layer_name: Name of the teacher layer to tap.
        student_layer_name: Name of the student layer to tap.
        p: Exponent of the attention map.

    Example:

    ```python
    at = kr_keras.losses.AttentionTransfer("stage3_block3_out", "stage3_block1_out")
    distiller = keras.distillation.Distiller(teacher, student, [at],
        distillation_loss_weights=[1000.0], student_loss_weight=0.5)
    ```
    """

    CONFIG = ("p",)

    def __init__(self, teacher_layer_name, student_layer_name, p=2):
        if p <= 0:
            raise ValueError(f"`p` must be > 0. Received: p={p}")
        super().__init__(teacher_layer_name, student_layer_name)
        self.p = p

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        return scale_for_replicas(at_loss(student_outputs, teacher_outputs, self.p))


def build_losses(teacher, student, teacher_layers, student_layers, p,
                 distillation_loss_weight):
    """One `AttentionTransfer` per tapped pair (default: the stage ends)."""
    return paired_losses(lambda t, s: AttentionTransfer(t, s, p), distillation_loss_weight,
                         "AT", teacher, student, teacher_layers, student_layers)
