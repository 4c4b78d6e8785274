"""KDGAN-style adversarial posterior distillation (simplified).

Reference: Wang, Zhang, Sun and Qi, "KDGAN: Knowledge Distillation with
Generative Adversarial Networks", NeurIPS 2018 (paper ref. [30]).

KDGAN is a three-player game: a classifier (student), a teacher trained
alongside it, and a discriminator of (input, label) pairs that sees
Gumbel-softmax samples of both posteriors. kr_keras implements a two-player
simplification suited to a *frozen, pre-trained* teacher:

* the discriminator `D` (`kr_keras.layers.PosteriorDiscriminator`) sees
  temperature-softened class posteriors only, the teacher's as "real"
  and the student's as "fake" (no input, no label, no Gumbel sampling);
* `D` minimises `discriminator_loss`; the student minimises
  `w_ce * CE + w_kd * KD_T + w_adv * adversarial_loss` (KD: Hinton's term,
  which KDGAN also distils through);
* per batch, `D` is updated first, then the student against the updated
  `D` (alternating, one step each).
"""

import tensorflow as tf


def softened_posterior(logits, temperature):
    """`softmax(logits / T)` in float32: what the discriminator sees."""
    return tf.nn.softmax(tf.cast(logits, tf.float32) / temperature, axis=-1)


def discriminator_loss(real_logits, fake_logits):
    """Binary cross-entropy of `D`: teacher posteriors 1, student ones 0.

    Args:
        real_logits: `D`'s logits on teacher posteriors, `[batch, 1]`.
        fake_logits: `D`'s logits on (stop-gradient) student posteriors.

    Returns:
        A scalar float32 tensor.
    """
    real = tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.ones_like(real_logits), logits=real_logits
    )
    fake = tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.zeros_like(fake_logits), logits=fake_logits
    )
    return tf.reduce_mean(real) + tf.reduce_mean(fake)


def adversarial_loss(fake_logits):
    """The student's non-saturating GAN term `-log D(p_s)`, batch mean.

    Example:

    >>> float(adversarial_loss(tf.constant([[0.0]])))  # D undecided: log 2
    0.6931...
    """
    return tf.reduce_mean(
        tf.nn.sigmoid_cross_entropy_with_logits(
            labels=tf.ones_like(fake_logits), logits=fake_logits
        )
    )
