"""Tests of `KRDistiller`: the two alternating steps, errors, fit, saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kr_keras
from conftest import snapshot
from kr_keras.distillers import group_taps
from kr_keras.models import cifar_resnet

SHAPE = (16, 16, 1)


def _models(teacher_depth=20, student_depth=8, classes=10, seed=0):
    keras.utils.set_random_seed(seed)
    teacher = cifar_resnet(teacher_depth, width_multiplier=0.5, num_classes=classes,
                           input_shape=SHAPE)
    student = cifar_resnet(student_depth, width_multiplier=0.25, num_classes=classes,
                           input_shape=SHAPE)
    return teacher, student


def _batch(n=16, classes=10, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, *SHAPE)).astype("float32"),
            rng.integers(0, classes, n).astype("int32"))


def _changed(before, variables):
    return [not np.array_equal(b, v.numpy()) for b, v in zip(before, variables)]


def _distiller(student_lr, knowledge_lr, **kwargs):
    teacher, student = _models()
    distiller = kr_keras.KRDistiller(teacher, student, group_size=3, **kwargs)
    distiller.compile(
        student_optimizer=keras.optimizers.SGD(student_lr, momentum=0.9),
        knowledge_optimizer=keras.optimizers.SGD(knowledge_lr, momentum=0.9),
    )
    return distiller


def _one_step(distiller):
    x, y = _batch()
    groups = {
        "teacher": distiller.teacher.weights,
        "student": distiller.student.trainable_weights,
        "knowledge": distiller.knowledge_variables,
        "tau": [r.tau for r in distiller.recoders],
    }
    before = {k: snapshot(v) for k, v in groups.items()}
    distiller.train_on_batch(x, y)
    return {k: _changed(before[k], v) for k, v in groups.items()}


def test_knowledge_step_changes_only_aggregators():
    changed = _one_step(_distiller(student_lr=0.0, knowledge_lr=0.1))
    assert all(changed["knowledge"])
    assert not any(changed["student"])
    assert not any(changed["teacher"])


def test_student_step_changes_only_student_and_thresholds():
    distiller = _distiller(student_lr=0.1, knowledge_lr=0.0)
    changed = _one_step(distiller)
    assert not any(changed["knowledge"])
    assert all(changed["student"])
    assert not any(changed["teacher"])
    # tau: initialised on the first call, then moved by its own rule.
    assert all(changed["tau"])
    taus_before = snapshot([distiller.recoders[0].tau])
    distiller.train_on_batch(*_batch(seed=1))
    assert _changed(taus_before, [distiller.recoders[0].tau]) == [True]


def test_thresholds_move_whatever_the_student_learning_rate():
    """tau follows its own rule: the same with a frozen student (lr 0) as
    with a learning one, on the first step (same residuals)."""
    taus = []
    for lr in (0.0, 0.1):
        distiller = _distiller(student_lr=lr, knowledge_lr=0.0)
        distiller.train_on_batch(*_batch())
        taus.append([float(r.tau.numpy()) for r in distiller.recoders])
    np.testing.assert_allclose(taus[0], taus[1], rtol=1e-6)


def test_teacher_never_changes_in_fit_including_batchnorm_statistics():
    distiller = _distiller(student_lr=0.05, knowledge_lr=0.1)
    before = snapshot(distiller.teacher.weights)
    x, y = _batch(64)
    distiller.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert not any(_changed(before, distiller.teacher.weights))


def test_student_step_uses_recoded_gradients():
    """With floor=0 and a huge tau, SRP filters every prior gradient: with
    mu>0 and no CE, the student must not move."""
    dense = _distiller(0.1, 0.0, mu=1.0, student_loss_weight=0.0, sparse=False)
    assert any(_one_step(dense)["student"])
    sparse = _distiller(0.1, 0.0, mu=1.0, student_loss_weight=0.0, target_inactive=1.0)
    # Skip the first-call initialisation and make every residual "inactive".
    for recoder in sparse.recoders:
        recoder.initialized.assign(1.0)
        recoder.tau.assign(1e9)
    changed = _one_step(sparse)
    assert not any(changed["student"])


def test_group_taps_infers_and_explains_mismatches():
    assert group_taps(list("abcdef"), ["x", "y"]) == [list("abc"), list("def")]
    with pytest.raises(ValueError, match="7 teacher taps do not divide into 3"):
        group_taps(list("abcdefg"), list("xyz"))
    with pytest.raises(ValueError, match="group_size=3 x 3 student taps = 9"):
        group_taps(list("abcdef"), list("xyz"), group_size=3)
    with pytest.raises(ValueError, match="group_size"):
        group_taps(list("abc"), list("abc"), group_size=0)


def test_uneven_taps_are_a_clear_error():
    teacher, student = _models(teacher_depth=14)  # 6 taps vs 3
    with pytest.raises(ValueError, match="the teacher has 6"):
        kr_keras.KRDistiller(teacher, student, group_size=3)


def test_mismatched_models_are_clear_errors():
    teacher, _ = _models()
    student = cifar_resnet(8, num_classes=5, input_shape=SHAPE)
    with pytest.raises(ValueError, match="num_classes=10"):
        kr_keras.KRDistiller(teacher, student)
    student = cifar_resnet(8, input_shape=(8, 8, 1))
    with pytest.raises(ValueError, match="input_shape"):
        kr_keras.KRDistiller(teacher, student)


def test_fit_on_fashion_mnist_lowers_the_loss_and_logs_every_metric():
    train = kr_keras.data.load("fashion_mnist", "train", batch_size=32, take=512, seed=0)
    keras.utils.set_random_seed(0)
    shape = (28, 28, 1)
    teacher = cifar_resnet(20, width_multiplier=0.25, input_shape=shape)
    student = cifar_resnet(8, width_multiplier=0.25, input_shape=shape)
    distiller = kr_keras.KRDistiller(teacher, student, group_size=3,
                                     posterior=kr_keras.losses.KD())
    distiller.compile(student_optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                      knowledge_optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                      metrics=["accuracy"])
    history = distiller.fit(train, validation_data=train.take(2), epochs=3, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0]
    for key in ("loss", "student_loss", "knowledge_loss", "prior_loss",
                "distillation_loss", "tau", "inactive_fraction", "accuracy"):
        assert key in history.history and "val_" + key in history.history
        assert np.all(np.isfinite(history.history[key]))


def test_posterior_term_is_added_to_the_student_objective():
    x, y = _batch()
    plain = _distiller(0.0, 0.0)
    with_kd = _distiller(0.0, 0.0, posterior=kr_keras.losses.KD(),
                         distillation_loss_weights=2.0)
    a = plain.evaluate(x, y, verbose=0, return_dict=True)
    b = with_kd.evaluate(x, y, verbose=0, return_dict=True)
    # `distillation_loss` reports the weighted posterior term.
    np.testing.assert_allclose(b["loss"], a["loss"] + b["distillation_loss"],
                               rtol=1e-4)
    expected_kd = kr_keras.losses.kd_loss(with_kd.teacher(x), with_kd.student(x), 4.0)
    np.testing.assert_allclose(b["distillation_loss"], 2.0 * float(expected_kd), rtol=1e-3)


def test_keras_file_round_trip_predicts_the_same(tmp_path):
    distiller = _distiller(0.05, 0.1, posterior=kr_keras.losses.KD(temperature=3.0))
    x, y = _batch()
    distiller.train_on_batch(x, y)
    path = tmp_path / "kr.keras"
    distiller.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, kr_keras.KRDistiller)
    assert loaded.posterior[0].temperature == 3.0
    np.testing.assert_allclose(loaded.predict(x, verbose=0),
                               distiller.predict(x, verbose=0), atol=1e-5)
    for a, b in zip(loaded.recoders, distiller.recoders):
        np.testing.assert_allclose(a.tau.numpy(), b.tau.numpy())
    np.testing.assert_allclose(loaded.aggregators[0].projection.kernel.numpy(),
                               distiller.aggregators[0].projection.kernel.numpy())


def test_registry_builds_kr_family_and_rejects_unknown_names():
    teacher, student = _models()
    assert not kr_keras.build_distiller("kr_dense", teacher, student).sparse
    assert kr_keras.build_distiller("kr+kd", teacher, student).posterior
    with pytest.raises(ValueError, match="Known methods: .*'kr'"):
        kr_keras.build_distiller("nope", teacher, student)


def test_student_alone_trains_only_the_student():
    teacher, student = _models()
    baseline = kr_keras.build_distiller("ce", teacher, student)
    baseline.compile(optimizer=keras.optimizers.SGD(0.1), metrics=["accuracy"])
    before = snapshot(student.trainable_weights)
    baseline.train_on_batch(*_batch())
    assert all(_changed(before, student.trainable_weights))


def test_prior_warmup_ramps_mu_linearly_in_training_and_evaluation():
    distiller = _distiller(0.01, 0.1, mu=2.0, prior_warmup_steps=4)
    x, y = _batch()
    for step in (1, 2):
        logs = distiller.train_on_batch(x, y, return_dict=True)
        expected = logs["student_loss"] + 2.0 * step / 4 * logs["prior_loss"]
        np.testing.assert_allclose(logs["loss"], expected, rtol=1e-4)
        distiller.reset_metrics()
    # After 2 student steps evaluation weighs the prior by mu * 3/4 (the
    # weight of the next step), not by the full mu.
    logs = distiller.evaluate(x, y, verbose=0, return_dict=True)
    np.testing.assert_allclose(
        logs["loss"], logs["student_loss"] + 2.0 * 3 / 4 * logs["prior_loss"], rtol=1e-4)
    with pytest.raises(ValueError, match="prior_warmup_steps"):
        _distiller(0.01, 0.1, prior_warmup_steps=-1)


def test_registry_lists_each_methods_hyperparameters():
    from kr_keras.distillers import registry

    assert registry.hyperparameters("ce") == set()
    assert {"mu", "gamma", "group_size", "boost"} <= registry.hyperparameters("kr")
    # kr+kdgan forwards **kwargs to KRDistiller through its subclass.
    assert {"mu", "group_size", "adversarial_weight"} <= registry.hyperparameters("kr+kdgan")
    assert "mu" not in registry.hyperparameters("nst")
    with pytest.raises(ValueError, match="Known methods"):
        registry.hyperparameters("nope")


def test_l2_matching_is_blind_to_the_scale_of_the_maps():
    """With unit-norm matching the student cannot lower the prior (or the
    aggregator the knowledge loss) by shrinking its maps; raw matching can."""
    rng = np.random.default_rng(0)
    knowledge = [tf.constant(rng.normal(size=(2, 4, 4, 3)), tf.float32)]
    student = [tf.constant(rng.normal(size=(2, 4, 4, 3)), tf.float32)]
    shrunk = [0.1 * f for f in student]
    normalized = _distiller(0.0, 0.0, sparse=False)
    raw = _distiller(0.0, 0.0, sparse=False, feature_normalization="none")
    for loss in ("_prior_loss", "_knowledge_loss"):
        np.testing.assert_allclose(getattr(normalized, loss)(knowledge, shrunk),
                                   getattr(normalized, loss)(knowledge, student), rtol=1e-5)
        assert float(getattr(raw, loss)(knowledge, shrunk)) != pytest.approx(
            float(getattr(raw, loss)(knowledge, student)), rel=1e-2)
    # Per-example sum of squares of unit vectors: 2 - 2 cos, within [0, 4].
    value = float(normalized._prior_loss(knowledge, student))
    s, k = (np.reshape(t.numpy(), (2, -1)) for t in (student[0], knowledge[0]))
    cos = np.sum(s * k, 1) / np.linalg.norm(s, axis=1) / np.linalg.norm(k, axis=1)
    np.testing.assert_allclose(value, np.mean(2 - 2 * cos), rtol=1e-5)
    with pytest.raises(ValueError, match="feature_normalization"):
        _distiller(0.0, 0.0, feature_normalization="l1")


def test_gamma_weighs_the_group_with_the_larger_residual_more():
    """Eq. 9: sigma_j must separate two groups whose unit-norm residuals
    differ, whatever the maps' size and scale."""
    rng = np.random.default_rng(0)
    student = [tf.constant(rng.normal(size=(4, 8, 8, 6)), tf.float32),
               tf.constant(3.0 * rng.normal(size=(4, 4, 4, 12)), tf.float32)]
    close = student[0] + 0.1 * rng.normal(size=(4, 8, 8, 6)).astype("float32")
    far = student[1] + 3.0 * rng.normal(size=(4, 4, 4, 12)).astype("float32")
    distiller = _distiller(0.0, 0.0, gamma=1.0)
    small, large = (float(w) for w in distiller.knowledge_weights([close, far], student))
    assert large / small > 1.5, (small, large)
    # gamma=0 gives equal weights; the weight does not depend on the norm.
    flat = _distiller(0.0, 0.0, gamma=0.0)
    assert [float(w) for w in flat.knowledge_weights([close, far], student)] == [1.0, 1.0]
    scaled = distiller.knowledge_weights([10 * close, 10 * far], [10 * f for f in student])
    np.testing.assert_allclose([float(w) for w in scaled], [small, large], rtol=1e-4)


def test_aggregator_statistics_move_once_per_step():
    distiller = _distiller(0.01, 0.1)
    bn = distiller.aggregators[0].batch_norm
    x, y = _batch()
    teacher_features = distiller._teacher_forward(x)[1]
    merged = distiller.aggregators[0].merge(
        [teacher_features[i] for i in distiller._groups[0]])
    before = bn.moving_mean.numpy().copy()
    batch_mean = np.asarray(distiller.aggregators[0]._projection(merged)).mean((0, 1, 2))
    distiller.train_on_batch(x, y)
    # One update with momentum 0.9 towards the batch mean of the first
    # projection (a second update would move it by ~0.19 of the gap).
    np.testing.assert_allclose(bn.moving_mean.numpy() - before, 0.1 * (batch_mean - before),
                               rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("student_lr", [0.01, 0.05, 0.1])
def test_srp_threshold_is_stable_whatever_the_student_learning_rate(student_lr):
    """Issue 13's acceptance, on a small pair: after step 20 no tau is ever
    0 and each tap's median relative step is <= 0.10 (with SGD momentum
    0.9, tau used to jump between 0 and above the 90th percentile)."""
    distiller = _distiller(student_lr, 0.1, mu=0.1)
    x, y = _batch(64)
    taus = []
    for step in range(40):
        i = (step % 4) * 16
        distiller.train_on_batch(x[i:i + 16], y[i:i + 16])
        taus.append([float(r.tau.numpy()) for r in distiller.recoders])
    taus = np.array(taus[20:])
    assert np.all(taus > 0)
    relative = np.abs(np.diff(taus, axis=0)) / taus[:-1]
    assert np.all(np.median(relative, axis=0) <= 0.10), np.median(relative, axis=0)


def test_thresholds_are_not_in_any_optimizer():
    distiller = _distiller(0.05, 0.1)
    distiller.compile(optimizer=keras.optimizers.SGD(0.05, weight_decay=0.1),
                      auxiliary_optimizer=keras.optimizers.SGD(0.1))
    taus = {id(r.tau) for r in distiller.recoders}
    for optimizer in (distiller.optimizer, distiller.knowledge_optimizer):
        assert not taus & {id(v) for v in optimizer._trainable_variables}


@pytest.mark.parametrize("refresh", [True, False])
def test_student_step_matches_the_knowledge_before_or_after_its_update(refresh):
    """`refresh_knowledge=True` (default): the prior term of the step is the
    match against the *updated* aggregators' knowledge; `False`: against
    the knowledge from before their step."""
    distiller = _distiller(0.05, 0.5, refresh_knowledge=refresh)
    x, y = _batch()
    merged = distiller._merged(distiller._teacher_forward(x)[1])
    features = distiller._student_tapped(x, training=True)[1:]

    def prior():
        knowledge = distiller._knowledge(merged, training=True, update_statistics=False)
        return float(distiller._prior_loss(knowledge, features, recode=False))

    before = prior()
    logs = distiller.train_on_batch(x, y, return_dict=True)
    after = prior()
    assert abs(after - before) > 1e-3 * before  # the update moved the knowledge
    assert logs["prior_loss"] == pytest.approx(after if refresh else before, rel=1e-5)
    config = distiller.get_config()
    assert config["refresh_knowledge"] is refresh
