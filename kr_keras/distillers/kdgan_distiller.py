"""`KDGANDistiller` ("kdgan"): KD plus an adversarial posterior term."""

import keras
import tensorflow as tf

from kr_keras.distillers.base import BaseDistiller
from kr_keras.distillers.common import replica_scale
from kr_keras.distillers.registry import register
from kr_keras.layers.posterior_discriminator import PosteriorDiscriminator
from kr_keras.losses.kd import kd_loss
from kr_keras.losses.kdgan import adversarial_loss
from kr_keras.losses.kdgan import discriminator_loss
from kr_keras.losses.kdgan import softened_posterior


def discriminator_step(discriminator, optimizer, teacher_logits,
                       student_logits, temperature, training):
    """Returns the discriminator loss; updates `discriminator` with
    `optimizer` first when `training` (shared by "kdgan" and "kr+kdgan")."""
    real = softened_posterior(teacher_logits, temperature)
    fake = tf.stop_gradient(softened_posterior(student_logits, temperature))
    if not training:
        return discriminator_loss(discriminator(real), discriminator(fake))
    with tf.GradientTape() as tape:
        loss = discriminator_loss(discriminator(real), discriminator(fake))
        scaled = optimizer.scale_loss(replica_scale(loss))
    variables = discriminator.trainable_variables
    optimizer.apply(tape.gradient(scaled, variables), variables)
    return loss


def student_adversarial_loss(discriminator, student_logits, temperature):
    """`-log D(softmax(s / T))` for the student."""
    return adversarial_loss(
        discriminator(softened_posterior(student_logits, temperature))
    )


def adversarial_posterior(discriminator, optimizer, tracker, teacher_logits,
                          student_logits, temperature, training):
    """One discriminator step (logged on `tracker`), then the student's
    adversarial term against the updated discriminator: what every
    KDGAN-style posterior adds on top of its KD term."""
    d_loss = discriminator_step(discriminator, optimizer, teacher_logits,
                                student_logits, temperature, training)
    tracker.update_state(d_loss, sample_weight=tf.shape(student_logits)[0])
    # float32 like every other loss term (the discriminator computes in the
    # policy's dtype under mixed precision).
    return tf.cast(student_adversarial_loss(discriminator, student_logits, temperature),
                   tf.float32)


@keras.saving.register_keras_serializable(package="kr_keras")
class KDGANDistiller(BaseDistiller):
    """`w_s * CE + w_d * (KD_T + adversarial_weight * -log D(p_s))`.

    The simplified KDGAN of `kr_keras.losses.kdgan` (frozen teacher;
    discriminator on softened posteriors; per batch one discriminator step,
    then one student step against the updated discriminator). KD part:
    RepDistiller's KD defaults (`T=4`, `w_s=0.1`, `w_d=0.9`).
    `adversarial_weight=0.1` and `discriminator_units=64` are our choices,
    not the paper's (its three-player game has other parameters). The
    discriminator trains with `compile(auxiliary_optimizer=...)`; its loss
    is reported as `auxiliary_loss`.

    Args:
        teacher: Trained functional `keras.Model` returning logits.
        student: Functional `keras.Model` returning logits.
        temperature: Softening temperature of KD and of `D`'s inputs.
        adversarial_weight: Weight of the adversarial term inside the
            distillation term.
        discriminator_units: Hidden width of `D`.
        student_loss_weight: Weight of the cross-entropy.
        distillation_loss_weight: Weight of the KD + adversarial term.
        name: Model name.

    Reference: Wang et al., "KDGAN: Knowledge Distillation with Generative
    Adversarial Networks", NeurIPS 2018 (paper ref. [30]).
    """

    def __init__(self, teacher, student, temperature=4.0, adversarial_weight=0.1,
                 discriminator_units=64, student_loss_weight=0.1,
                 distillation_loss_weight=0.9, name="kdgan_distiller", **kwargs):
        if temperature <= 0 or adversarial_weight < 0:
            raise ValueError(
                "`temperature` must be > 0 and `adversarial_weight` >= 0. "
                f"Received: temperature={temperature}, "
                f"adversarial_weight={adversarial_weight}"
            )
        kwargs.pop("teacher_layers", None)
        kwargs.pop("student_layers", None)
        super().__init__(teacher, student, student_loss_weight=student_loss_weight,
                         distillation_loss_weight=distillation_loss_weight,
                         name=name, **kwargs)
        self.temperature = float(temperature)
        self.adversarial_weight = float(adversarial_weight)
        self.discriminator_units = int(discriminator_units)
        self.discriminator = PosteriorDiscriminator(
            self.discriminator_units, name="discriminator"
        )
        self.discriminator.build((None, int(student.outputs[0].shape[-1])))
        self.auxiliary_loss_tracker = keras.metrics.Mean(name="auxiliary_loss")

    @property
    def auxiliary_variables(self):
        return self.discriminator.trainable_variables

    def distillation_loss(self, teacher_logits, teacher_features,
                          student_logits, student_features, training):
        adversarial = adversarial_posterior(
            self.discriminator, self.auxiliary_optimizer, self.auxiliary_loss_tracker,
            teacher_logits, student_logits, self.temperature, training,
        )
        return (kd_loss(teacher_logits, student_logits, self.temperature)
                + self.adversarial_weight * adversarial)

    def get_config(self):
        return {
            **super().get_config(),
            "temperature": self.temperature,
            "adversarial_weight": self.adversarial_weight,
            "discriminator_units": self.discriminator_units,
        }


@register("kdgan", KDGANDistiller)
def build_kdgan(teacher, student, **hparams):
    """"kdgan": simplified KDGAN (KD T=4 plus a posterior discriminator)."""
    return KDGANDistiller(teacher, student, **hparams)
