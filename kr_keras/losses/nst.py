"""Neuron selectivity transfer (NST): MMD between channel distributions.

Reference: Huang and Wang, "Like What You Like: Knowledge Distill via Neuron
Selectivity Transfer", 2017 (paper ref. [12]); RepDistiller
`distiller_zoo/NST.py` (`NSTLoss`, full loss), whose form is followed.
Defaults: docs/methods.md, "Methods".
"""

import keras
import tensorflow as tf

from kr_keras.losses.common import TappedLoss
from kr_keras.losses.common import paired_losses
from kr_keras.losses.common import scale_for_replicas
from kr_keras.losses.spatial import match_spatial

DEFAULTS = {"teacher_layers": None, "student_layers": None, "student_loss_weight": 1.0,
            "distillation_loss_weight": 50.0}


def _channel_vectors(feature):
    """`[batch, c, h*w]`: each channel's map, flattened and L2-normalised."""
    f = tf.cast(feature, tf.float32)
    f = tf.transpose(f, [0, 3, 1, 2])
    f = tf.reshape(f, [tf.shape(f)[0], tf.shape(f)[1], -1])
    return tf.math.l2_normalize(f, axis=-1, epsilon=1e-24)


def _poly_kernel_mean(a, b):
    """Mean over batch and channel pairs of `(a_i . b_j)**2` (d=2, c=0)."""
    return tf.reduce_mean(tf.square(tf.matmul(a, b, transpose_b=True)))


def nst_loss(student_feat, teacher_feat):
    """Squared MMD with the polynomial kernel `k(x, y) = (x . y)**2`.

    Each channel's spatial map, L2-normalised, is one sample; the loss is
    `mean k(t, t) + mean k(s, s) - 2 mean k(s, t)` over channel pairs,
    averaged over the batch (RepDistiller's "full" loss, the `k(t, t)` term
    carrying no gradient).

    Args:
        student_feat: `[batch, h, w, c_s]` student map.
        teacher_feat: `[batch, h', w', c_t]` teacher map; the larger map is
            average-pooled to the other's size.

    Returns:
        A scalar float32 tensor (>= 0 up to rounding).

    Example:

    >>> f = tf.random.normal([2, 8, 8, 4])
    >>> abs(float(nst_loss(f, f))) < 1e-6
    True
    """
    student_feat, teacher_feat = match_spatial(student_feat, teacher_feat)
    s = _channel_vectors(student_feat)
    t = tf.stop_gradient(_channel_vectors(teacher_feat))
    return (
        _poly_kernel_mean(t, t)
        + _poly_kernel_mean(s, s)
        - 2.0 * _poly_kernel_mean(s, t)
    )


@keras.saving.register_keras_serializable(package="kr_keras")
class NeuronSelectivityTransfer(TappedLoss):
    """`nst_loss` of one tapped pair as a `keras.distillation.DistillationLoss`.

    Args:
        teacher_layer_name: Name of the teacher layer to tap.
        student_layer_name: Name of the student layer to tap.

    Example:

    ```python
    nst = kr_keras.losses.NeuronSelectivityTransfer("stage3_block3_out", "stage3_block1_out")
    distiller = keras.distillation.Distiller(teacher, student, [nst], [50.0])
    ```
    """

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        return scale_for_replicas(nst_loss(student_outputs, teacher_outputs))


def build_losses(teacher, student, teacher_layers, student_layers,
                 distillation_loss_weight):
    """One `NeuronSelectivityTransfer` per tapped pair (default: the stage ends)."""
    return paired_losses(NeuronSelectivityTransfer, distillation_loss_weight, "NST",
                         teacher, student, teacher_layers, student_layers)
