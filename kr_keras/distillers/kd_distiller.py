"""`KDDistiller` ("kd"): Hinton knowledge distillation."""

import keras

from kr_keras.distillers.base import BaseDistiller
from kr_keras.distillers.registry import register
from kr_keras.losses.kd import kd_loss


@keras.saving.register_keras_serializable(package="kr_keras")
class KDDistiller(BaseDistiller):
    """`w_s * CE(y, s) + w_d * KL(softmax(t/T) || softmax(s/T)) * T**2`.

    Defaults are RepDistiller's CIFAR KD run (`-r 0.1 -a 0.9`, `--kd_T 4`):
    `student_loss_weight=0.1`, `distillation_loss_weight=0.9`, `T=4`.
    Hinton et al. weigh the soft term by `T**2` as here. The same loss
    inside `keras.distillation.Distiller` is `kr_keras.losses.KD`.

    Args:
        teacher: Trained functional `keras.Model` returning logits.
        student: Functional `keras.Model` returning logits.
        temperature: Softening temperature `T`.
        student_loss_weight: Weight of the cross-entropy.
        distillation_loss_weight: Weight of the KD term.
        name: Model name.

    Example:

    ```python
    distiller = kr_keras.build_distiller("kd", teacher, student)
    distiller.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                      metrics=["accuracy"])
    distiller.fit(train_ds, epochs=1)
    ```

    Reference: Hinton, Vinyals and Dean, "Distilling the Knowledge in a
    Neural Network", 2015 (paper ref. [11]).
    """

    def __init__(self, teacher, student, temperature=4.0,
                 student_loss_weight=0.1, distillation_loss_weight=0.9,
                 name="kd_distiller", **kwargs):
        if temperature <= 0:
            raise ValueError(
                f"`temperature` must be > 0. Received: temperature={temperature}"
            )
        kwargs.pop("teacher_layers", None)
        kwargs.pop("student_layers", None)
        super().__init__(teacher, student, student_loss_weight=student_loss_weight,
                         distillation_loss_weight=distillation_loss_weight,
                         name=name, **kwargs)
        self.temperature = float(temperature)

    def distillation_loss(self, teacher_logits, teacher_features,
                          student_logits, student_features, training):
        return kd_loss(teacher_logits, student_logits, self.temperature)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}


@register("kd", KDDistiller)
def build_kd(teacher, student, **hparams):
    """"kd": Hinton KD (T=4, 0.1 CE + 0.9 KD, RepDistiller's CIFAR run)."""
    return KDDistiller(teacher, student, **hparams)
