"""`FSPDistiller` ("fsp"): FSP matrices, optionally in the paper's two stages."""

import keras

from kr_keras.distillers.base import BaseDistiller
from kr_keras.distillers.base import stage_end_names
from kr_keras.distillers.registry import register
from kr_keras.losses.fsp import check_fsp_channels
from kr_keras.losses.fsp import fsp_loss


def _default_taps(model):
    stem = ["stem_out"] if any(l.name == "stem_out" for l in model.layers) else []
    return stem + stage_end_names(model)


class _StageSchedule(keras.callbacks.Callback):
    """Sets the distiller's stage-one flag at each epoch start."""

    def __init__(self, stage_epochs):
        super().__init__()
        self.stage_epochs = stage_epochs

    def on_epoch_begin(self, epoch, logs=None):
        self.model.stage_one.assign(1.0 if epoch < self.stage_epochs else 0.0)


@keras.saving.register_keras_serializable(package="kr_keras")
class FSPDistiller(BaseDistiller):
    """`w_s * CE + beta * fsp_loss(s_taps, t_taps)`, or Yim et al.'s stages.

    Taps: the section boundaries, by default the stem output and the stage
    ends (RepDistiller's `feat[:-1]`), giving one FSP matrix per stage.
    Paired taps need equal channel counts (checked here).

    With `stage_epochs=N` (the paper's schedule; RepDistiller's
    `--init_epochs 30`), epochs `< N` minimise the FSP loss alone and later
    epochs the cross-entropy alone (`fit` adds the callback that switches).
    With `stage_epochs=None` (default) both terms are minimised jointly,
    `CE + 50 * FSP` (50: RepDistiller's `-b` for FSP, which its own
    two-stage run never applies; the joint form is our option).

    Args:
        teacher: Trained functional `keras.Model` returning logits.
        student: Functional `keras.Model` returning logits.
        teacher_layers: Teacher section boundaries, in order.
        student_layers: Student section boundaries, as many.
        stage_epochs: `None` (joint) or the epochs of stage one.
        student_loss_weight: Weight of the cross-entropy.
        distillation_loss_weight: beta.
        name: Model name.

    Reference: Yim et al., "A Gift from Knowledge Distillation", CVPR 2017
    (paper ref. [34]); RepDistiller `FSP.py`.
    """

    def __init__(self, teacher, student, teacher_layers=None,
                 student_layers=None, stage_epochs=None,
                 student_loss_weight=1.0, distillation_loss_weight=50.0,
                 name="fsp_distiller", **kwargs):
        if stage_epochs is not None and (
                not isinstance(stage_epochs, int) or stage_epochs < 1):
            raise ValueError(
                "`stage_epochs` must be None or an int >= 1. "
                f"Received: stage_epochs={stage_epochs}"
            )
        teacher_layers = list(teacher_layers or _default_taps(teacher))
        student_layers = list(student_layers or _default_taps(student))
        check_fsp_channels(
            [student.get_layer(n).output.shape[-1] for n in student_layers],
            [teacher.get_layer(n).output.shape[-1] for n in teacher_layers],
        )
        super().__init__(teacher, student, teacher_layers, student_layers,
                         student_loss_weight=student_loss_weight,
                         distillation_loss_weight=distillation_loss_weight,
                         name=name, **kwargs)
        self.stage_epochs = stage_epochs
        self.stage_one = self.add_weight(
            shape=(), initializer="ones", trainable=False, name="stage_one"
        )

    def loss_weights(self):
        if self.stage_epochs is None:
            return super().loss_weights()
        return (self.student_loss_weight * (1.0 - self.stage_one),
                self.distillation_loss_weight * self.stage_one)

    def distillation_loss(self, teacher_logits, teacher_features,
                          student_logits, student_features, training):
        return fsp_loss(student_features, teacher_features)

    def fit(self, *args, **kwargs):
        if self.stage_epochs is not None:
            kwargs["callbacks"] = list(kwargs.get("callbacks") or []) + [
                _StageSchedule(self.stage_epochs)
            ]
        return super().fit(*args, **kwargs)

    def get_config(self):
        return {**super().get_config(), "stage_epochs": self.stage_epochs}


@register("fsp", FSPDistiller)
def build_fsp(teacher, student, fsp_stage_epochs=None, **hparams):
    """"fsp": FSP (beta 50 joint; `fsp_stage_epochs=N` for two stages)."""
    return FSPDistiller(teacher, student, stage_epochs=fsp_stage_epochs, **hparams)
