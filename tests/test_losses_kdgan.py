"""KDGAN-style discriminator/adversarial terms and the discriminator layer."""

import keras
import numpy as np
import tensorflow as tf

from kr_keras.layers import PosteriorDiscriminator
from kr_keras.losses import adversarial_loss
from kr_keras.losses import discriminator_loss


def np_bce(logits, label):
    p = 1 / (1 + np.exp(-logits))
    return -(label * np.log(p) + (1 - label) * np.log(1 - p)).mean()


def test_terms_match_numpy_binary_cross_entropy():
    rng = np.random.default_rng(2)
    real, fake = rng.normal(size=(2, 5, 1)).astype("float32")
    np.testing.assert_allclose(discriminator_loss(real, fake),
                               np_bce(real, 1) + np_bce(fake, 0), rtol=1e-5)
    np.testing.assert_allclose(adversarial_loss(fake), np_bce(fake, 1), rtol=1e-5)


def test_discriminator_shape_and_config_round_trip():
    d = PosteriorDiscriminator(units=8)
    assert tuple(d(tf.ones((3, 10)) / 10).shape) == (3, 1)
    clone = PosteriorDiscriminator.from_config(d.get_config())
    assert clone.get_config() == d.get_config()
    assert keras.saving.get_registered_name(PosteriorDiscriminator) == (
        "kr_keras>PosteriorDiscriminator")
