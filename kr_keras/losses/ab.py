"""Activation boundaries (AB): transfer which neurons fire, before training.

Reference: Heo, Lee, Yun and Choi, "Knowledge Transfer via Distillation of
Activation Boundaries Formed by Hidden Neurons", AAAI 2019; RepDistiller
`distiller_zoo/AB.py` (`ABLoss`), `models/util.py` (`Connector`),
`helper/pretrain.py` and `train_student.py`. Taps, scales and stages:
docs/methods_zoo.md, "AB".
"""

import keras
import tensorflow as tf

from kr_keras.layers.hint_regressor import regressor_arguments
from kr_keras.layers.hint_regressor import regressor_conv
from kr_keras.losses.common import HelperLoss
from kr_keras.losses.common import loss_alone_stage
from kr_keras.losses.common import paired_taps
from kr_keras.losses.common import scale_for_replicas

DEFAULTS = {"teacher_layers": None, "student_layers": None, "margin": 1.0,
            "ab_stage_epochs": None, "student_loss_weight": 1.0,
            "distillation_loss_weight": 1.0}


def ab_loss(source, target, margin=1.0):
    """`sum((s + m)**2 [s > -m, t <= 0] + (s - m)**2 [s <= m, t > 0]) / batch`.

    Args:
        source: `[batch, ...]` connected student pre-activations `s`.
        target: Teacher pre-activations `t`, the same shape.
        margin: `m` (1).

    Returns:
        A scalar float32 tensor: per-sample sums, averaged over the batch.

    Example:

    >>> t = tf.constant([[2.0, -2.0]])
    >>> float(ab_loss(t, t))
    0.0
    """
    s, t = tf.cast(source, tf.float32), tf.cast(target, tf.float32)
    off = tf.cast((s > -margin) & (t <= 0), tf.float32)
    on = tf.cast((s <= margin) & (t > 0), tf.float32)
    loss = tf.square(s + margin) * off + tf.square(s - margin) * on
    return tf.reduce_sum(loss) / tf.cast(tf.shape(s)[0], tf.float32)


def _check(t_shape, s_shape):
    if regressor_arguments(s_shape, t_shape) is None:  # what `_connector` can bridge
        return "its connector needs a student map at least the teacher's size, or half of it"
    return None


def _connector(s_shape, t_shape):
    """RepDistiller's `Connector` (docs/methods_zoo.md, "AB")."""
    if tuple(s_shape[1:]) == tuple(t_shape[1:]):
        return keras.layers.Identity(name="connector")
    arguments = regressor_arguments(s_shape, t_shape)
    if arguments is None:
        raise ValueError(
            "AB connects a student map at least the teacher's size, or half of it; tap "
            f"another pair. Received: student_shape={tuple(s_shape)}, "
            f"teacher_shape={tuple(t_shape)}")
    conv = regressor_conv(int(t_shape[-1]), **arguments)
    norm = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)
    return keras.Sequential([conv, norm], name="connector")


@keras.saving.register_keras_serializable(package="kr_keras")
class ActivationBoundaries(HelperLoss):
    """AB for one pair of pre-activation maps, owning its connector.

    `compute_loss(teacher_map, student_map)` is
    `scale * ab_loss(connector(student_map), teacher_map, margin)`.

    Args:
        teacher_layer_name: Teacher pre-activation layer (`*_add`).
        student_layer_name: Student pre-activation layer (`*_add`).
        margin: `m` (1).
        scale: Factor on the loss (`build_losses` sets the reference's
            per-layer `2**(i - n + 1) * 3 / 1000`).
        **kwargs: Base layer keyword arguments.

    Example:

    ```python
    losses, _ = kr_keras.losses.ab.build_losses(teacher, student, None, None, 1.0, None, 1.0)
    init = keras.distillation.Distiller(teacher, student, losses,
                                        [1.0] * len(losses), student_loss_weight=0.0)
    ```
    """

    CONFIG = ("margin", "scale")

    def __init__(self, teacher_layer_name, student_layer_name, margin=1.0,
                 scale=1.0, **kwargs):
        if margin < 0:
            raise ValueError(f"`margin` must be >= 0. Received: margin={margin}")
        super().__init__(teacher_layer_name, student_layer_name, **kwargs)
        self.margin = float(margin)
        self.scale = float(scale)

    def build_helpers(self, teacher_shape, student_shape):
        self.connector = _connector(student_shape, teacher_shape)
        self.connector.build(tuple(student_shape))

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        source = self.connector(student_outputs, training=kwargs.get("training", True))
        return scale_for_replicas(self.scale * ab_loss(source, teacher_outputs, self.margin))


def build_losses(teacher, student, teacher_layers, student_layers, margin, ab_stage_epochs,
                 distillation_loss_weight):
    """One `ActivationBoundaries` per tapped pair; weight 0 after an AB stage."""
    pairs = paired_taps("AB", teacher, student, teacher_layers, student_layers,
                        kind="preactivation", check=_check, sized=True)
    n = len(pairs)
    losses = [ActivationBoundaries(t, s, margin, 2.0**(i - n + 1) * 3 / 1000)
              for i, (t, s) in enumerate(pairs)]
    return losses, [0.0 if ab_stage_epochs else distillation_loss_weight] * n


def stages(ab_stage_epochs, distillation_loss_weight, n_losses, **hparams):
    """The reference's first stage: `ab_stage_epochs` epochs of AB alone."""
    return loss_alone_stage(ab_stage_epochs, [distillation_loss_weight] * n_losses)
