"""Every registered distiller under mixed_float16 / mixed_bfloat16 policies."""

import numpy as np
import pytest

import keras
import kr_keras
from distribute_script import CHEAP, data, models

STEPS = 8  # enough for dynamic loss scaling to settle under AT/FitNet weights


@pytest.fixture
def policy(request):
    keras.mixed_precision.set_global_policy(request.param)
    try:
        yield request.param
    finally:
        keras.mixed_precision.set_global_policy("float32")


def optimizers_of(distiller):
    return [v for v in vars(distiller).values() if isinstance(v, keras.optimizers.Optimizer)]


def train(method, steps=STEPS, init=None):
    keras.utils.set_random_seed(0)
    teacher, student = models()
    distiller = kr_keras.build_distiller(method, teacher, student, **CHEAP.get(method, {}))
    if init is not None:
        distiller.set_weights(init)
    start = distiller.get_weights()
    distiller.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9))
    before = [w.numpy() for w in distiller.student.trainable_weights]
    x, y = data(duplicate_halves=False, batches=steps)
    history = distiller.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    distiller.start_weights = start
    return distiller, before, history


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"], indirect=True)
@pytest.mark.parametrize("method", kr_keras.distillers.names())
def test_trains_with_finite_losses_and_float32_state(policy, method):
    distiller, before, history = train(method)
    logs = {k: v[-1] for k, v in history.history.items()}
    assert logs and all(np.isfinite(v) for v in logs.values()), logs
    # The policy is active: the student computes in half precision ...
    half = policy.split("_")[1]
    assert distiller.student(np.zeros([1, 8, 8, 3], "float32")).dtype == half
    # ... keeps float32 variables (BN statistics, SRP thresholds included) ...
    assert all(v.dtype == "float32" for v in distiller.weights)
    # ... and every optimizer stepped and moved the student.
    changed = [not np.allclose(b, w.numpy()) for b, w in zip(before, distiller.student.trainable_weights)]
    assert all(changed)
    optimizers = optimizers_of(distiller)
    assert optimizers and distiller.optimizer in optimizers
    for optimizer in optimizers:
        is_scaled = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        assert is_scaled == (policy == "mixed_float16"), optimizer
        if is_scaled:
            assert np.isfinite(float(optimizer.dynamic_scale))
            # Dynamic loss scaling skips steps whose scaled gradients
            # overflow while the scale settles (FitNet's 100x hint skips two
            # at the initial 2**15); every optimizer must still have stepped.
            assert int(optimizer.inner_optimizer.iterations) >= 1


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"], indirect=True)
def test_kr_losses_match_float32_at_the_first_step(policy):
    keras.mixed_precision.set_global_policy("float32")
    reference, _, ref_history = train("kr", steps=1)
    keras.mixed_precision.set_global_policy(policy)
    _, _, history = train("kr", steps=1, init=reference.start_weights)
    tolerance = 2e-2 if policy == "mixed_float16" else 6e-2
    for key in ("loss", "student_loss", "knowledge_loss", "prior_loss"):
        assert history.history[key][0] == pytest.approx(ref_history.history[key][0], rel=tolerance), key


def test_srp_threshold_follows_the_same_rule_under_mixed_float16():
    """tau's rule reads float32 residuals, so a half-precision student
    moves it as the float32 one does (it once stood still under loss
    scaling)."""
    taus = {}
    for policy in ("float32", "mixed_float16"):
        keras.mixed_precision.set_global_policy(policy)
        try:
            distiller, _, _ = train("kr", steps=2, init=taus.get("init"))
        finally:
            keras.mixed_precision.set_global_policy("float32")
        taus.setdefault("init", distiller.start_weights)
        first = float(np.mean(np.abs(distiller.kr.recoders[0].tau.numpy())))
        taus[policy] = first
    assert taus["float32"] > 0
    assert taus["mixed_float16"] == pytest.approx(taus["float32"], rel=0.05), taus
