"""`KRKDGANDistiller` ("kr+kdgan"): KR's prior term with a KDGAN posterior."""

import keras

from kr_keras.distillers.common import build_optimizer
from kr_keras.distillers.kdgan_distiller import adversarial_posterior
from kr_keras.distillers.kr_distiller import KRDistiller
from kr_keras.distillers.registry import register
from kr_keras.layers.posterior_discriminator import PosteriorDiscriminator
from kr_keras.losses.kd import KD


@keras.saving.register_keras_serializable(package="kr_keras")
class KRKDGANDistiller(KRDistiller):
    """`KRDistiller` whose posterior term is the simplified KDGAN one.

    The posterior is `KD(T)` (weight `distillation_loss_weights`, default
    1) plus `adversarial_weight * -log D(softmax(s/T))`; the discriminator
    `D` (`kr_keras.layers.PosteriorDiscriminator`) takes one step per batch
    on its own optimizer (`compile(discriminator_optimizer=...)`, default a
    copy of the student optimizer's settings) before the student step, in
    `_posterior_loss`, which `KRDistiller.train_step` calls inside its
    student step. Everything else is `KRDistiller`'s (the knowledge step,
    SRP, metrics); `auxiliary_loss` reports `D`'s loss. See
    `kr_keras.losses.kdgan` for the simplification of KDGAN.

    Args:
        teacher: Trained functional `keras.Model` returning logits.
        student: Functional `keras.Model` returning logits.
        temperature: KD temperature and `D`'s input softening.
        adversarial_weight: Weight of the adversarial term (our choice).
        discriminator_units: Hidden width of `D`.
        **kwargs: `KRDistiller` arguments (`mu`, `group_size`, ...).
    """

    def __init__(self, teacher, student, temperature=4.0, adversarial_weight=0.1,
                 discriminator_units=64, posterior=None, name="kr_kdgan_distiller",
                 **kwargs):
        if posterior is None:
            posterior = KD(temperature=temperature)
        super().__init__(teacher, student, posterior=posterior, name=name, **kwargs)
        self.temperature = float(temperature)
        self.adversarial_weight = float(adversarial_weight)
        self.discriminator_units = int(discriminator_units)
        self.discriminator = PosteriorDiscriminator(
            self.discriminator_units, name="discriminator"
        )
        self.discriminator.build((None, int(student.outputs[0].shape[-1])))
        self.auxiliary_loss_tracker = keras.metrics.Mean(name="auxiliary_loss")
        self.discriminator_optimizer = None
        self._training_step = False

    def compile(self, *args, discriminator_optimizer=None, **kwargs):
        """`KRDistiller.compile` plus `discriminator_optimizer`."""
        super().compile(*args, **kwargs)
        if discriminator_optimizer is None:
            inner = getattr(self.optimizer, "inner_optimizer", self.optimizer)
            discriminator_optimizer = inner.__class__.from_config(inner.get_config())
        self.discriminator_optimizer = build_optimizer(
            discriminator_optimizer, self.discriminator.trainable_variables,
            "discriminator_optimizer",
        )

    def train_step(self, data):
        # Traced in Python: tells `_posterior_loss` to update D.
        self._training_step = True
        try:
            return super().train_step(data)
        finally:
            self._training_step = False

    def _posterior_loss(self, teacher_logits, student_logits):
        adversarial = adversarial_posterior(
            self.discriminator, self.discriminator_optimizer, self.auxiliary_loss_tracker,
            teacher_logits, student_logits, self.temperature, self._training_step,
        )
        return (super()._posterior_loss(teacher_logits, student_logits)
                + self.adversarial_weight * adversarial)

    def get_config(self):
        return {
            **super().get_config(),
            "temperature": self.temperature,
            "adversarial_weight": self.adversarial_weight,
            "discriminator_units": self.discriminator_units,
        }


@register("kr+kdgan", KRKDGANDistiller)
def build_kr_kdgan(teacher, student, **hparams):
    """"kr+kdgan": KR's prior term plus the simplified KDGAN posterior."""
    return KRKDGANDistiller(teacher, student, **hparams)
