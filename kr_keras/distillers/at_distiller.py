"""`ATDistiller` ("at"): attention transfer at the stage ends."""

import keras

from kr_keras.distillers.feature_map_distiller import FeatureMapDistiller
from kr_keras.distillers.registry import register
from kr_keras.losses.at import at_loss


@keras.saving.register_keras_serializable(package="kr_keras")
class ATDistiller(FeatureMapDistiller):
    """`CE + beta * sum_i at_loss(s_i, t_i, p)` over the stage ends.

    Defaults are RepDistiller's CIFAR AT run (`-a 0 -b 1000`, `p=2`, the
    three stage outputs): `distillation_loss_weight=1000`. Maps of
    different sizes are pooled to the smaller one (`kr_keras.losses.at`).
    In `keras.distillation.Distiller`: `kr_keras.losses.AttentionTransfer`.

    Args:
        teacher: Trained functional `keras.Model` returning logits.
        student: Functional `keras.Model` returning logits.
        teacher_layers: Teacher taps; default its stage ends.
        student_layers: Student taps, one per teacher tap; default its
            stage ends.
        p: Attention-map exponent.
        student_loss_weight: Weight of the cross-entropy.
        distillation_loss_weight: beta.
        name: Model name.

    Reference: Zagoruyko and Komodakis, "Paying More Attention to
    Attention", ICLR 2017 (paper ref. [36]); RepDistiller `AT.py`.
    """

    def __init__(self, teacher, student, teacher_layers=None,
                 student_layers=None, p=2, student_loss_weight=1.0,
                 distillation_loss_weight=1000.0, name="at_distiller", **kwargs):
        if p <= 0:
            raise ValueError(f"`p` must be > 0. Received: p={p}")
        super().__init__(teacher, student, teacher_layers, student_layers,
                         student_loss_weight=student_loss_weight,
                         distillation_loss_weight=distillation_loss_weight,
                         name=name, **kwargs)
        self.p = p

    def feature_loss(self, student_feature, teacher_feature):
        return at_loss(student_feature, teacher_feature, self.p)

    def get_config(self):
        return {**super().get_config(), "p": self.p}


@register("at", ATDistiller)
def build_at(teacher, student, **hparams):
    """"at": attention transfer (beta 1000, p 2, stage ends)."""
    return ATDistiller(teacher, student, **hparams)
