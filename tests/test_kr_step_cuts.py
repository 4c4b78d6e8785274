"""The KR train step's shared measurements give the same losses as each
loss measuring its own maps (BUILD.md, "Where the KR step's time goes")."""

import numpy as np
import pytest
import tensorflow as tf

import kr_keras
from distribute_script import models


@pytest.mark.parametrize("normalization", ["l2", "none"])
def test_measured_once_equals_measured_per_loss(normalization):
    teacher, student = models()
    distiller = kr_keras.KRDistiller(teacher, student, feature_normalization=normalization,
                                     gamma=1.0)
    rng = np.random.default_rng(0)
    shapes = [tuple(student.get_layer(n).output.shape[1:]) for n in distiller.student_layers]
    knowledge = [tf.constant(rng.normal(size=(3, *s)), tf.float32) for s in shapes]
    features = [tf.constant(rng.normal(size=(3, *s)) * 5.0, tf.float32) for s in shapes]
    measured = [distiller._to_measure(f) for f in features]

    reference = sum(
        w * distiller._distance(distiller._to_measure(k), distiller._to_measure(f))
        for w, k, f in zip(distiller.knowledge_weights(knowledge, features), knowledge,
                           features))
    shared = distiller._knowledge_loss(knowledge, measured, measured=True)
    assert float(distiller._knowledge_loss(knowledge, features)) == pytest.approx(
        float(reference), rel=1e-6)
    assert float(shared) == pytest.approx(float(reference), rel=1e-6)
    # The weights differ from 1 (gamma acts), so the check covers them.
    assert all(float(w) > 1.01 for w in distiller.knowledge_weights(knowledge, features))
    prior = distiller._prior_loss(knowledge, features, recode=False)
    assert float(distiller._prior_loss(knowledge, measured, recode=False, measured=True)) \
        == pytest.approx(float(prior), rel=1e-6)


def test_srp_on_the_residual_gives_the_student_the_recoded_gradient():
    """The prior term recodes the residual `s - K` (one subtraction): the
    student map's gradient must be `2 r / B * where(|r| > tau, boost,
    floor)`, as when SRP recoded the student map itself."""
    teacher, student = models()
    distiller = kr_keras.KRDistiller(teacher, student, boost=3.0, floor=0.25)
    rng = np.random.default_rng(1)
    shapes = [tuple(student.get_layer(n).output.shape[1:]) for n in distiller.student_layers]
    knowledge = [tf.constant(rng.normal(size=(4, *s)), tf.float32) for s in shapes]
    features = [tf.constant(rng.normal(size=(4, *s)), tf.float32) for s in shapes]
    for recoder in distiller.recoders:  # a known threshold (first call sets it)
        recoder.initialized.assign(1.0)
        recoder.tau.assign(0.5)
    with tf.GradientTape() as tape:
        tape.watch(features)
        loss = distiller._prior_loss(knowledge, features, measured=True)
    grads = tape.gradient(loss, features)
    for k, s, g in zip(knowledge, features, grads):
        r = (s - distiller._to_measure(k)).numpy()
        expected = 2 * r / 4 * np.where(np.abs(r) > 0.5, 3.0, 0.25)
        np.testing.assert_allclose(g.numpy(), expected, rtol=1e-5, atol=1e-8)
        assert 0.05 < np.mean(np.abs(r) > 0.5) < 0.95  # both branches occur
