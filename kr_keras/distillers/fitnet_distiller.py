"""`FitNetDistiller` ("fitnet"): hint learning with a trained regressor."""

import keras

from kr_keras.distillers.base import BaseDistiller
from kr_keras.distillers.base import stage_end_names
from kr_keras.distillers.registry import register
from kr_keras.layers.hint_regressor import HintRegressor
from kr_keras.losses.fitnet import fitnet_loss


@keras.saving.register_keras_serializable(package="kr_keras")
class FitNetDistiller(BaseDistiller):
    """`CE + beta * mean((r(s_guided) - t_hint)**2)`, `r` a `HintRegressor`.

    RepDistiller's single-stage FitNet (`-a 0 -b 100`, `--hint_layer 2`:
    the end of the middle stage): `distillation_loss_weight=100`, hint and
    guided layers default to the middle stage ends. The regressor (1x1 conv
    where the maps have equal size, 3x3 stride 2 where the student's is
    twice as large; + BN + ReLU) is trained on `beta * hint loss` by the
    auxiliary optimizer, which by default copies the student optimizer's
    settings, so the update equals RepDistiller's joint one. Romero et
    al.'s original is two-stage (hint pre-training, then KD); not done here.

    Args:
        teacher: Trained functional `keras.Model` returning logits.
        student: Functional `keras.Model` returning logits.
        teacher_layer: The hint layer's name; default the middle stage end.
        student_layer: The guided layer's name; default the middle stage end.
        student_loss_weight: Weight of the cross-entropy.
        distillation_loss_weight: beta.
        name: Model name.

    Reference: Romero et al., "FitNets: Hints for Thin Deep Nets", ICLR
    2015 (paper ref. [26]); RepDistiller `FitNet.py`, `models/util.py`.
    """

    def __init__(self, teacher, student, teacher_layer=None, student_layer=None,
                 student_loss_weight=1.0, distillation_loss_weight=100.0,
                 name="fitnet_distiller", **kwargs):
        kwargs.pop("teacher_layers", None)
        kwargs.pop("student_layers", None)
        if teacher_layer is None:
            ends = stage_end_names(teacher)
            teacher_layer = ends[(len(ends) - 1) // 2]
        if student_layer is None:
            ends = stage_end_names(student)
            student_layer = ends[(len(ends) - 1) // 2]
        super().__init__(teacher, student, [teacher_layer], [student_layer],
                         student_loss_weight=student_loss_weight,
                         distillation_loss_weight=distillation_loss_weight,
                         name=name, **kwargs)
        self.teacher_layer = teacher_layer
        self.student_layer = student_layer
        self.regressor = HintRegressor.for_shapes(
            student.get_layer(student_layer).output.shape,
            teacher.get_layer(teacher_layer).output.shape,
            name="hint_regressor",
        )
        self.auxiliary_loss_tracker = keras.metrics.Mean(name="auxiliary_loss")

    @property
    def auxiliary_variables(self):
        return self.regressor.trainable_variables

    def distillation_loss(self, teacher_logits, teacher_features,
                          student_logits, student_features, training):
        hint = self.regressor(student_features[0], training=training)
        return fitnet_loss(hint, teacher_features[0])

    def auxiliary_loss(self, distillation, *args):
        return self.distillation_loss_weight * distillation

    def get_config(self):
        config = super().get_config()
        del config["teacher_layers"], config["student_layers"]
        config.update(teacher_layer=self.teacher_layer,
                      student_layer=self.student_layer)
        return config


@register("fitnet", FitNetDistiller)
def build_fitnet(teacher, student, **hparams):
    """"fitnet": FitNet hints (beta 100, middle stage ends, regressor)."""
    return FitNetDistiller(teacher, student, **hparams)
