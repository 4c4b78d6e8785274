"""Factor transfer (FT): match paraphrased teacher factors by translation.

Reference: Kim, Park and Kwak, "Paraphrasing Complex Network: Network
Compression via Factor Transfer", NeurIPS 2018; RepDistiller
`distiller_zoo/FT.py` (`FactorTransfer`), `models/util.py` (`Paraphraser`,
`Translator`), `helper/pretrain.py` and `train_student.py`, whose forms are
followed. The paraphraser's stage and the defaults: docs/methods_zoo.md,
"FT" and "Stages (AB, FT)".
"""

import keras
import tensorflow as tf

from kr_keras.losses.common import HelperLoss
from kr_keras.losses.common import paired_losses
from kr_keras.losses.common import scale_for_replicas
from kr_keras.losses.spatial import match_spatial

DEFAULTS = {"teacher_layers": None, "student_layers": None, "rate": 0.5,
            "ft_stage_epochs": None, "paraphraser_epochs": 30 / 240,
            "student_loss_weight": 1.0, "distillation_loss_weight": 200.0}


def _factor(f, p1):
    a = tf.reduce_mean(tf.pow(tf.cast(f, tf.float32), p1), axis=-1)
    return tf.math.l2_normalize(tf.reshape(a, [tf.shape(a)[0], -1]), axis=1,
                                epsilon=1e-24)


def ft_loss(f_s, f_t, p1=2, p2=1):
    """`mean(|F(s) - F(t)|**p2)`, `F(f) = normalize(mean_c(f**p1))`.

    Args:
        f_s: `[batch, h, w, c]` translator output (student factor map).
        f_t: `[batch, h', w', c]` paraphraser code (teacher factor map); the
            larger is average pooled to the other's size.
        p1, p2: Powers inside the factor (2) and of the distance (1: L1).

    Returns:
        A scalar float32 tensor.

    Example:

    >>> float(ft_loss(tf.ones([2, 4, 4, 3]), tf.ones([2, 2, 2, 3])))
    0.0
    """
    f_s, f_t = match_spatial(f_s, f_t)
    diff = _factor(f_s, p1) - _factor(f_t, p1)
    return tf.reduce_mean(tf.abs(diff) if p2 == 1 else tf.pow(diff, p2))


def _convs(channels, filters, batch_norm, name, transpose=False):
    conv, stack = keras.layers.Conv2DTranspose if transpose else keras.layers.Conv2D, []
    for f in filters:
        stack.append(conv(f, 3, padding="same"))
        if batch_norm:
            stack.append(keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5))
        stack.append(keras.layers.LeakyReLU(0.1))
    net = keras.Sequential(stack, name=name)
    net.build((None, None, None, channels))
    return net


@keras.saving.register_keras_serializable(package="kr_keras")
class FactorTransfer(HelperLoss):
    """FT for one pair of maps, owning the paraphraser and the translator.

    `helper_loss` is the paraphraser's reconstruction MSE of the teacher map
    (its own objective, `helper_layers`); `compute_loss` is
    `ft_loss(translator(s), encoder(t))`, no gradient through the teacher's.

    Args:
        teacher_layer_name, student_layer_name: The tapped layers' names.
        rate: Paraphrase rate `k` (0.5): the factor has `int(rate * c_t)`
            channels, `c_t` the teacher map's.
        p1, p2: Powers inside the factor (2) and of the distance (1).
        **kwargs: Base layer keyword arguments.

    Example:

    ```python
    ft = kr_keras.losses.FactorTransfer("stage3_block3_out", "stage3_block1_out")
    ft.validate_model_compatibility(teacher, student)  # builds the helpers
    ```
    """

    CONFIG = ("rate", "p1", "p2")
    helper_layers = ("paraphraser_encoder", "paraphraser_decoder")
    # The reference's paraphraser SGD for ResNet students (helper/pretrain.py),
    # used without an auxiliary_optimizer (docs/methods_zoo.md, "Stages").
    default_helper_optimizer = {"class_name": "SGD",
                                "config": {"learning_rate": 0.01, "momentum": 0.9}}

    def __init__(self, teacher_layer_name, student_layer_name, rate=0.5, p1=2,
                 p2=1, **kwargs):
        if not 0 < rate <= 1:
            raise ValueError(f"`rate` must be in (0, 1]. Received: rate={rate}")
        super().__init__(teacher_layer_name, student_layer_name, **kwargs)
        self.rate, self.p1, self.p2 = float(rate), p1, p2

    def build_helpers(self, teacher_shape, student_shape):
        c_t, c_s = int(teacher_shape[-1]), int(student_shape[-1])
        c_f = max(1, int(c_t * self.rate))
        self.paraphraser_encoder = _convs(c_t, [c_t, c_f, c_f], False, "paraphraser_encoder")
        self.paraphraser_decoder = _convs(c_f, [c_f, c_t, c_t], False, "paraphraser_decoder", True)
        self.translator = _convs(c_s, [c_s, c_f, c_f], True, "translator")

    def helper_loss(self, teacher_outputs, student_outputs=None, **kwargs):
        t = tf.cast(teacher_outputs, tf.float32)
        rec = self.paraphraser_decoder(self.paraphraser_encoder(t))
        return scale_for_replicas(tf.reduce_mean(tf.square(tf.cast(rec, tf.float32) - t)))

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        factor_t = tf.stop_gradient(self.paraphraser_encoder(teacher_outputs))
        factor_s = self.translator(student_outputs, training=kwargs.get("training", True))
        return scale_for_replicas(ft_loss(factor_s, factor_t, self.p1, self.p2))


def build_losses(teacher, student, teacher_layers, student_layers, rate, ft_stage_epochs,
                 paraphraser_epochs, distillation_loss_weight):
    """RepDistiller's FT: one loss, on the last stage ends (`feat[-2]`) by default."""
    return paired_losses(lambda t, s: FactorTransfer(t, s, rate), distillation_loss_weight,
                         "FT", teacher, student, teacher_layers, student_layers, kind="last")


def stages(ft_stage_epochs, paraphraser_epochs=None, n_losses=1, **hparams):
    """The paraphraser's stage, then it stays frozen (docs/methods_zoo.md)."""
    stage = {"distillation_loss_weights": [0.0] * n_losses, "freeze_after": True}
    if ft_stage_epochs:
        return [{**stage, "epochs": ft_stage_epochs, "student_loss_weight": 0.0,
                 "train_student": False}]
    return [{**stage, "epochs": paraphraser_epochs, "student_loss_weight": 1.0}
            ] if paraphraser_epochs else []
