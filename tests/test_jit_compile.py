"""Distillers with `compile(jit_compile=True)` (XLA): one method per kind
of training step.

The cases cover each step path: the student alone, a logits loss, a loss
with a trained helper (FitNet's regressor), a memory bank (CRD), helpers
of both kinds sharing one optimizer (FT's paraphraser and translator, in
its joint form), KR's two-optimizer step alone, with
KD and with an adversarial helper. The other registered losses are plain
tensor expressions inside the generic step (their values are checked in
tests/test_losses_zoo.py); compiling all 20 cost ~4 CPU-minutes of the
suite.
"""

import numpy as np
import pytest

import keras
import kr_keras
from distribute_script import CHEAP, data, models


def train(method, jit_compile, init=None, run_eagerly=False):
    keras.utils.set_random_seed(0)
    teacher, student = models()
    distiller = kr_keras.build_distiller(method, teacher, student, **CHEAP.get(method, {}))
    if init is not None:
        distiller.set_weights(init)
    start = distiller.get_weights()
    distiller.compile(optimizer=keras.optimizers.SGD(0.05), jit_compile=jit_compile,
                      run_eagerly=run_eagerly)
    x, y = data(duplicate_halves=False, batches=2)
    history = distiller.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    return distiller, start, history.history


XLA_CASES = ["ce", "kd", "fitnet", "crd", "ft", "kr", "kr+kd", "kr+kdgan"]


def test_xla_cases_are_registered():
    assert set(XLA_CASES) <= set(kr_keras.distillers.names())


@pytest.mark.parametrize("method", XLA_CASES)
def test_xla_steps_match_the_plain_steps(method):
    # The reference runs eagerly: the same math as the graph step (which
    # the other suites run), without tracing a second step per method.
    plain, start, plain_logs = train(method, jit_compile=False, run_eagerly=True)
    jitted, _, jit_logs = train(method, jit_compile=True, init=start)
    assert jitted.jit_compile is True and plain.jit_compile is False
    moved = [not np.allclose(a, b) for a, b in zip(start, plain.get_weights())]
    assert any(moved)
    # SRP's custom gradient (thresholds included) and both optimizers give
    # the same two steps under XLA, to float tolerance.
    for weight, a, b in zip(plain.weights, plain.get_weights(), jitted.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=weight.path)
    for key, value in plain_logs.items():
        assert jit_logs[key][-1] == pytest.approx(value[-1], rel=1e-4, abs=1e-6), key
