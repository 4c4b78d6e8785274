"""KDGAN-style adversarial posterior distillation (simplified).

Reference: Wang, Zhang, Sun and Qi, "KDGAN: Knowledge Distillation with
Generative Adversarial Networks", NeurIPS 2018 (paper ref. [30]), reduced
to two players for a frozen teacher: the student, with Hinton's KD term
(which KDGAN also distils through), and a discriminator of softened
posteriors (`kr_keras.layers.PosteriorDiscriminator`). The simplification
and the defaults: docs/methods.md, "Methods".
"""

import keras
import tensorflow as tf

from kr_keras.layers.posterior_discriminator import PosteriorDiscriminator
from kr_keras.losses.common import scale_for_replicas
from kr_keras.losses.kd import KD
from kr_keras.models.tap import model_io

DEFAULTS = {"temperature": 4.0, "adversarial_weight": 0.1, "student_loss_weight": 0.1,
            "distillation_loss_weight": 0.9}


def _bce(logits, label):
    logits = tf.cast(logits, tf.float32)
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.fill(tf.shape(logits), float(label)), logits=logits))


def discriminator_loss(real_logits, fake_logits):
    """Binary cross-entropy of `D`: teacher posteriors 1, student ones 0.

    Args:
        real_logits: `D`'s logits on teacher posteriors, `[batch, 1]`.
        fake_logits: `D`'s logits on (stop-gradient) student posteriors.

    Returns:
        A scalar float32 tensor.
    """
    return _bce(real_logits, 1.0) + _bce(fake_logits, 0.0)


def adversarial_loss(fake_logits):
    """The student's non-saturating GAN term `-log D(p_s)`, batch mean.

    Example:

    >>> float(adversarial_loss(tf.constant([[0.0]])))  # D undecided: log 2
    0.6931...
    """
    return _bce(fake_logits, 1.0)


@keras.saving.register_keras_serializable(package="kr_keras")
class KDGANDistillation(keras.layers.Layer, keras.distillation.DistillationLoss):
    """The adversarial posterior term; owns the discriminator `D`.

    `compute_loss` is the student's `adversarial_loss`, `helper_loss` `D`'s
    `discriminator_loss`, which `kr_keras.distillers.Distiller` minimises in
    a step before the student's (`keras.distillation.Distiller` cannot).

    Args:
        temperature: Softening of the posteriors `D` sees (4).
        units: Hidden width of `D` (64).
        **kwargs: Base layer keyword arguments.
    """

    # A copy of the student's optimizer, also beside KR's aggregators.
    helper_optimizer = "student"

    def __init__(self, temperature=4.0, units=64, **kwargs):
        if temperature <= 0:
            raise ValueError(f"`temperature` must be > 0. Received: temperature={temperature}")
        super().__init__(**kwargs)
        self.temperature = float(temperature)
        self.units = int(units)
        self.teacher_layer_name = self.student_layer_name = None
        self.discriminator = None

    def validate_model_compatibility(self, teacher, student):
        if self.discriminator is None:
            self.discriminator = PosteriorDiscriminator(self.units, name="discriminator")
            self.discriminator.build((None, int(model_io(student)[1])))
        self.built = True

    def _judge(self, logits):
        """`D`'s logits on `softmax(logits / T)` in float32 (what `D` sees)."""
        return self.discriminator(tf.nn.softmax(tf.cast(logits, tf.float32) / self.temperature))

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        return scale_for_replicas(adversarial_loss(self._judge(student_outputs)))

    def helper_loss(self, teacher_outputs, student_outputs, **kwargs):
        fake = self._judge(tf.stop_gradient(student_outputs))
        return scale_for_replicas(discriminator_loss(self._judge(teacher_outputs), fake))

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature, "units": self.units}


def build_losses(teacher, student, temperature, adversarial_weight, distillation_loss_weight):
    """`[KD(T), KDGANDistillation(T)]` weighted `w_d` and `w_d * w_adv`; the
    logits alone, so "kdgan" takes no tap arguments."""
    del teacher, student
    if adversarial_weight < 0:
        raise ValueError(f"`adversarial_weight` must be >= 0. "
                         f"Received: adversarial_weight={adversarial_weight}")
    return ([KD(temperature), KDGANDistillation(temperature)],
            [distillation_loss_weight, distillation_loss_weight * adversarial_weight])
