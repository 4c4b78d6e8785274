"""Variational information distillation (VID): a Gaussian likelihood bound.

Reference: Ahn, Hu, Damianou, Lawrence and Dai, "Variational Information
Distillation for Knowledge Transfer", CVPR 2019; RepDistiller
`distiller_zoo/VID.py` (`VIDLoss`, the authors' code) and `train_student.py`,
whose form is followed: docs/methods_zoo.md, "VID".
"""

import math

import keras
import tensorflow as tf

from kr_keras.losses.common import HelperLoss
from kr_keras.losses.common import paired_losses
from kr_keras.losses.common import scale_for_replicas
from kr_keras.losses.spatial import match_spatial

DEFAULTS = {"teacher_layers": None, "student_layers": None, "init_pred_var": 5.0,
            "eps": 1e-5, "student_loss_weight": 1.0, "distillation_loss_weight": 1.0}


def vid_loss(pred_mean, target, log_scale, eps=1e-5):
    """`mean(0.5 * ((mu - t)**2 / var + log var))`, `var = softplus(a) + eps`.

    Args:
        pred_mean: `[batch, h, w, c]` regressed mean `mu` of the teacher map.
        target: `[batch, h, w, c]` teacher map.
        log_scale: `[c]` pre-softplus variances `a`.
        eps: Variance floor.

    Returns:
        A scalar float32 tensor (mean over all elements).

    Example:

    >>> t = tf.zeros([2, 4, 4, 3])
    >>> round(float(vid_loss(t, t, tf.zeros([3]))), 4)  # 0.5 * log(log 2 + eps)
    -0.1832
    """
    var = tf.nn.softplus(tf.cast(log_scale, tf.float32)) + eps
    diff = tf.cast(pred_mean, tf.float32) - tf.cast(target, tf.float32)
    return tf.reduce_mean(0.5 * (tf.square(diff) / var + tf.math.log(var)))


@keras.saving.register_keras_serializable(package="kr_keras")
class VariationalInformationDistillation(HelperLoss):
    """VID for one pair of maps, owning its regressor and variances.

    `compute_loss` is `vid_loss(regressor(s), t, log_scale, eps)`, the
    larger map average pooled to the other's size first.

    Args:
        teacher_layer_name: Name of the teacher layer to tap.
        student_layer_name: Name of the student layer to tap.
        init_pred_var: Initial variance (5).
        eps: Variance floor (1e-5).
        **kwargs: Base layer keyword arguments.

    Example:

    ```python
    vid = kr_keras.losses.VariationalInformationDistillation(
        "stage3_block3_out", "stage3_block1_out")
    distiller = keras.distillation.Distiller(teacher, student, [vid], [1.0])
    ```
    """

    CONFIG = ("init_pred_var", "eps")

    def __init__(self, teacher_layer_name, student_layer_name,
                 init_pred_var=5.0, eps=1e-5, **kwargs):
        if init_pred_var <= eps or eps <= 0:
            raise ValueError(
                "`eps` must be > 0 and `init_pred_var` > eps. Received: "
                f"init_pred_var={init_pred_var}, eps={eps}")
        super().__init__(teacher_layer_name, student_layer_name, **kwargs)
        self.init_pred_var = float(init_pred_var)
        self.eps = float(eps)

    def build_helpers(self, teacher_shape, student_shape):
        channels = int(teacher_shape[-1])
        conv = lambda: keras.layers.Conv2D(channels, 1, use_bias=False)  # noqa: E731
        self.regressor = keras.Sequential(
            [conv(), keras.layers.ReLU(), conv(), keras.layers.ReLU(), conv()],
            name="regressor")
        self.regressor.build((None, None, None, int(student_shape[-1])))
        start = math.log(math.expm1(self.init_pred_var - self.eps))
        self.log_scale = self.add_weight(shape=(channels,), name="log_scale",
                                         initializer=keras.initializers.Constant(start))

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        s, t = match_spatial(student_outputs, teacher_outputs)
        return scale_for_replicas(vid_loss(self.regressor(s), t, self.log_scale, self.eps))


def build_losses(teacher, student, teacher_layers, student_layers, init_pred_var, eps,
                 distillation_loss_weight):
    """One VID per tapped pair, summed (default: the stage ends)."""
    return paired_losses(
        lambda t, s: VariationalInformationDistillation(t, s, init_pred_var, eps),
        distillation_loss_weight, "VID", teacher, student, teacher_layers, student_layers)
