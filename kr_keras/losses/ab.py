"""Activation boundaries (AB): transfer which neurons fire, before training.

Reference: Heo, Lee, Yun and Choi, "Knowledge Transfer via Distillation of
Activation Boundaries Formed by Hidden Neurons", AAAI 2019 (hinge-like
alternative loss; transfer as initialisation); RepDistiller `AB.py`
(`ABLoss`), `models/util.py` (`Connector`), `helper/pretrain.py` and
`train_student.py`: pre-activation stage ends (`feat[1:-1]`, `preact=True`),
layer `i` of `n` weighted `2**(i - n + 1) * 3 / 1000`, 30 epochs of
pre-training (connector and student) on AB alone, then no AB term in the
main stage (`loss_kd = 0` despite `-b 1`): `DEFAULTS["weight"] = 0`.
"""

import keras
import tensorflow as tf

from kr_keras.models.imagenet_pairing import stage_output_names

DEFAULTS = {"weight": 0.0, "margin": 1.0, "init_epochs": 30}
STAGES = (
    {"name": "ab_init", "epochs": DEFAULTS["init_epochs"], "loss": "compute_loss",
     "loss_weight": 1.0, "student_loss_weight": 0.0,
     "trains": ("student", "helpers"), "learning_rate": None},
)


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


def _connector(s_shape, t_shape):
    s_h, t_h, channels = int(s_shape[1]), int(t_shape[1]), int(t_shape[-1])
    if (s_h, int(s_shape[-1])) == (t_h, channels):
        return keras.layers.Identity(name="connector")
    if s_h == t_h:
        conv = keras.layers.Conv2D(channels, 1)
    elif s_h == 2 * t_h:
        conv = keras.layers.Conv2D(channels, 3, strides=2, padding="same")
    elif 2 * s_h == t_h:
        conv = keras.layers.Conv2DTranspose(channels, 4, strides=2, padding="same")
    else:
        raise ValueError(
            "AB connects maps of equal height or a factor 2 apart; tap another "
            f"pair. Received: student_shape={tuple(s_shape)}, "
            f"teacher_shape={tuple(t_shape)}")
    norm = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)
    return keras.Sequential([conv, norm], name="connector")


@keras.saving.register_keras_serializable(package="kr_keras")
class ActivationBoundaries(keras.layers.Layer,
                           keras.distillation.DistillationLoss):
    """AB for one pair of pre-activation maps, owning its connector.

    `compute_loss(teacher_map, student_map)` returns
    `scale * ab_loss(connector(student_map), teacher_map, margin)`. The
    connector (built in `validate_model_compatibility`: identity for equal
    shapes, else convolution + batch norm) is a trainable helper. Its batch
    norm follows the `training` keyword (default True).

    Args:
        teacher_layer_name: Teacher pre-activation layer (`*_add`).
        student_layer_name: Student pre-activation layer (`*_add`).
        margin: `m` (1).
        scale: Factor on the loss (`build_losses` sets the reference's
            per-layer `2**(i - n + 1) * 3 / 1000`).
        **kwargs: Base layer keyword arguments.

    Example:

    ```python
    losses, _ = kr_keras.losses.ab.build_losses(teacher, student)
    init = keras.distillation.Distiller(teacher, student, losses,
                                        [1.0] * len(losses), student_loss_weight=0.0)
    ```
    """

    def __init__(self, teacher_layer_name, student_layer_name, margin=1.0,
                 scale=1.0, **kwargs):
        if margin < 0:
            raise ValueError(f"`margin` must be >= 0. Received: margin={margin}")
        super().__init__(**kwargs)
        self.teacher_layer_name = teacher_layer_name
        self.student_layer_name = student_layer_name
        self.margin = float(margin)
        self.scale = float(scale)
        self.connector = None

    def validate_model_compatibility(self, teacher, student):
        t_shape = teacher.get_layer(self.teacher_layer_name).output.shape
        s_shape = student.get_layer(self.student_layer_name).output.shape
        if self.connector is None:
            self.connector = _connector(s_shape, t_shape)
            self.connector.build(tuple(s_shape))
        self.built = True

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        source = self.connector(student_outputs,
                                training=kwargs.get("training", True))
        return self.scale * ab_loss(source, teacher_outputs, self.margin)

    def get_config(self):
        keys = ("teacher_layer_name", "student_layer_name", "margin", "scale")
        return {**super().get_config(), **{k: getattr(self, k) for k in keys}}


def _preactivations(model):
    names = [n[: -len("_out")] + "_add" for n in stage_output_names(model)]
    available = {layer.name for layer in model.layers}
    if not set(names) <= available:
        raise ValueError(
            "AB taps the pre-activation sums `*_block<b>_add` of the stage "
            "ends; build the losses by hand for other models. Received: "
            f"missing layers {sorted(set(names) - available)}")
    return names


def build_losses(teacher, student, weight=DEFAULTS["weight"],
                 margin=DEFAULTS["margin"]):
    """RepDistiller's AB: one loss per pre-activation stage end."""
    t_names, s_names = _preactivations(teacher), _preactivations(student)
    if len(t_names) != len(s_names):
        raise ValueError("AB pairs stage ends one to one. Received: teacher "
                         f"stages={len(t_names)}, student stages={len(s_names)}")
    n = len(t_names)
    losses = [ActivationBoundaries(t, s, margin, 2.0**(i - n + 1) * 3 / 1000)
              for i, (t, s) in enumerate(zip(t_names, s_names))]
    return losses, [weight] * n
