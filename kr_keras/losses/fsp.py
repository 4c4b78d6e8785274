"""Flow of solution procedure (FSP): match Gram matrices between layers.

Reference: Yim, Joo, Bae and Kim, "A Gift from Knowledge Distillation: Fast
Optimization, Network Minimization and Transfer Learning", CVPR 2017 (paper
ref. [34]); RepDistiller `distiller_zoo/FSP.py` (`FSP`), whose form is
followed. Taps, defaults and the optional FSP stage: docs/methods.md, "Methods".
"""

import keras
import tensorflow as tf

from kr_keras.losses.common import TappedLoss
from kr_keras.losses.common import loss_alone_stage
from kr_keras.losses.common import paired_taps
from kr_keras.losses.common import scale_for_replicas
from kr_keras.losses.spatial import match_spatial

DEFAULTS = {"teacher_layers": None, "student_layers": None, "fsp_stage_epochs": None,
            "student_loss_weight": 1.0, "distillation_loss_weight": 50.0}


def fsp_matrix(f1, f2):
    """The FSP matrix `G[b, i, j] = mean_{h,w} f1[b,h,w,i] * f2[b,h,w,j]`.

    Args:
        f1: `[batch, h, w, c1]` map at the start of a section.
        f2: `[batch, h', w', c2]` map at its end; the larger map is average
            pooled to the other's size (RepDistiller; the paper pairs equal sizes).

    Returns:
        A `[batch, c1, c2]` float32 tensor.
    """
    f1, f2 = match_spatial(tf.cast(f1, tf.float32), tf.cast(f2, tf.float32))
    area = tf.cast(tf.shape(f1)[1] * tf.shape(f1)[2], tf.float32)
    return tf.einsum("bhwi,bhwj->bij", f1, f2) / area


def check_fsp_channels(student_channels, teacher_channels):
    """Raises unless paired maps have equal channel counts."""
    s_channels = [int(c) for c in student_channels]
    t_channels = [int(c) for c in teacher_channels]
    if s_channels != t_channels:
        raise ValueError(
            "FSP compares Gram matrices entry-wise, so each student map needs "
            "its teacher map's channel count: tap layers of equal width or "
            "use a student as wide as the teacher (RepDistiller raises here "
            f"too). Received: student channels {s_channels}, teacher "
            f"channels {t_channels}"
        )


def fsp_loss(student_features, teacher_features):
    """Sum over consecutive pairs of maps of `mean((G_s - G_t)**2)`.

    Args:
        student_features: List of >= 2 student maps, the section boundaries
            in order.
        teacher_features: List of as many teacher maps, with equal channel
            counts.

    Returns:
        A scalar float32 tensor.

    Example:

    >>> fs = [tf.random.normal([2, 8, 8, 4]), tf.random.normal([2, 4, 4, 8])]
    >>> float(fsp_loss(fs, fs))
    0.0
    """
    if len(student_features) != len(teacher_features) or len(student_features) < 2:
        raise ValueError(
            "FSP needs the same number (>= 2) of student and teacher maps, "
            "the section boundaries in order. Received: "
            f"{len(student_features)} student and {len(teacher_features)} "
            "teacher maps"
        )
    check_fsp_channels([f.shape[-1] for f in student_features],
                       [f.shape[-1] for f in teacher_features])
    total = 0.0
    for i in range(len(student_features) - 1):
        g_s = fsp_matrix(student_features[i], student_features[i + 1])
        g_t = fsp_matrix(teacher_features[i], teacher_features[i + 1])
        total += tf.reduce_mean(tf.square(g_s - tf.stop_gradient(g_t)))
    return total


@keras.saving.register_keras_serializable(package="kr_keras")
class FSPDistillation(TappedLoss):
    """`fsp_loss` over lists of taps, for `kr_keras.distillers.Distiller`.

    Args:
        teacher_layer_name: List of teacher layer names (>= 2).
        student_layer_name: List of as many student layer names.
    """

    def __init__(self, teacher_layer_name, student_layer_name):
        super().__init__(list(teacher_layer_name), list(student_layer_name))

    def validate_model_compatibility(self, teacher, student):
        super().validate_model_compatibility(teacher, student)
        check_fsp_channels(
            [student.get_layer(n).output.shape[-1] for n in self.student_layer_name],
            [teacher.get_layer(n).output.shape[-1] for n in self.teacher_layer_name])

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        return scale_for_replicas(fsp_loss(student_outputs, teacher_outputs))


def _check(t_shape, s_shape):
    if t_shape[-1] != s_shape[-1]:
        return "FSP compares Gram matrices entry-wise, so paired maps need one channel count"
    return None


def build_losses(teacher, student, teacher_layers, student_layers, fsp_stage_epochs,
                 distillation_loss_weight):
    """One `FSPDistillation` over the tapped boundaries; weight 0 after an FSP stage."""
    pairs = paired_taps("FSP", teacher, student, teacher_layers, student_layers,
                        kind="boundaries", check=_check)
    if len(pairs) < 2:
        raise ValueError("FSP needs >= 2 taps per network (the section boundaries). Pass "
                         f"lists of teacher_layers and student_layers. Received: "
                         f"teacher_layers={teacher_layers!r}, student_layers={student_layers!r}")
    loss = FSPDistillation(*[list(names) for names in zip(*pairs)])
    return [loss], [0.0 if fsp_stage_epochs else distillation_loss_weight]


def stages(fsp_stage_epochs, distillation_loss_weight, **hparams):
    """The paper's first stage: `fsp_stage_epochs` epochs of FSP alone."""
    return loss_alone_stage(fsp_stage_epochs, [distillation_loss_weight])
