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
