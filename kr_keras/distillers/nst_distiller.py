"""`NSTDistiller` ("nst"): neuron selectivity transfer at the stage ends."""

import keras

from kr_keras.distillers.feature_map_distiller import FeatureMapDistiller
from kr_keras.distillers.registry import register
from kr_keras.losses.nst import nst_loss


@keras.saving.register_keras_serializable(package="kr_keras")
class NSTDistiller(FeatureMapDistiller):
    """`CE + beta * sum_i nst_loss(s_i, t_i)` over the stage ends.

    Defaults are RepDistiller's CIFAR NST run (`-a 0 -b 50`, polynomial
    kernel d=2 c=0, the three stage outputs): `distillation_loss_weight=50`.
    (Huang and Wang also combine NST with KD; use `"kd"` weights through
    `kr_keras.losses.KD` in a `keras.distillation.Distiller` for that.)
    In `keras.distillation.Distiller`: `kr_keras.losses.NeuronSelectivityTransfer`.

    Args:
        teacher: Trained functional `keras.Model` returning logits.
        student: Functional `keras.Model` returning logits.
        teacher_layers: Teacher taps; default its stage ends.
        student_layers: Student taps, one per teacher tap; default its
            stage ends.
        student_loss_weight: Weight of the cross-entropy.
        distillation_loss_weight: beta.
        name: Model name.

    Reference: Huang and Wang, "Like What You Like: Knowledge Distill via
    Neuron Selectivity Transfer", 2017 (paper ref. [12]); RepDistiller
    `NST.py`.
    """

    def __init__(self, teacher, student, teacher_layers=None,
                 student_layers=None, student_loss_weight=1.0,
                 distillation_loss_weight=50.0, name="nst_distiller", **kwargs):
        super().__init__(teacher, student, teacher_layers, student_layers,
                         student_loss_weight=student_loss_weight,
                         distillation_loss_weight=distillation_loss_weight,
                         name=name, **kwargs)

    def feature_loss(self, student_feature, teacher_feature):
        return nst_loss(student_feature, teacher_feature)


@register("nst", NSTDistiller)
def build_nst(teacher, student, **hparams):
    """"nst": neuron selectivity transfer (beta 50, stage ends)."""
    return NSTDistiller(teacher, student, **hparams)
