"""Tests of `kr_keras.losses.kr`: KR's step against an independent plain-TF
reference, the mu = 0 controls, and the pieces of Eq. 9 and Eq. 10."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kr_keras
from kr_keras.losses import kr as kr_lib
from kr_keras.models import cifar_resnet

SHAPE = (16, 16, 1)


def _models(seed=0, teacher_depth=14):
    keras.utils.set_random_seed(seed)
    teacher = cifar_resnet(teacher_depth, width_multiplier=0.5, input_shape=SHAPE)
    student = cifar_resnet(8, width_multiplier=0.25, input_shape=SHAPE)
    return teacher, student


def _batches(steps=3, n=8, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(steps, n, *SHAPE)).astype("float32"),
            rng.integers(0, 10, (steps, n)).astype("int32"))


def _sgd(lr):
    return keras.optimizers.SGD(lr, momentum=0.9)


def _reference_kr(teacher, student, aggregator_weights, x, y, mu, gamma, boost, floor,
                  target, rate, student_lr, knowledge_lr, recode="residual"):
    """KR's alternating step written out in plain TensorFlow from docs/method.md:
    Eq. 9 on the aggregators (1x1 projection of the concatenated group + batch
    norm), then Eq. 10 on the student against the updated aggregators, SRP's
    gradient filter and threshold rule by hand, on the residuals or (`recode=
    "weights"`) on the prior's gradient to each kernel, by |W| against its own
    threshold. Returns the student's weights."""
    t_names = [l.name for l in teacher.layers if l.name.endswith("_out") and "block" in l.name]
    s_names = [l.name for l in student.layers if l.name.endswith("_out") and "block" in l.name]
    k = len(t_names) // len(s_names)
    t_tap = keras.Model(teacher.inputs, [teacher.get_layer(n).output for n in t_names])
    s_tap = keras.Model(student.inputs, [student.output] + [student.get_layer(n).output
                                                            for n in s_names])
    agg = [[tf.Variable(w) for w in ws] for ws in aggregator_weights]  # kernel, gamma, beta
    agg_vars = [v for ws in agg for v in ws]
    taus = {}
    s_opt, k_opt = _sgd(student_lr), _sgd(knowledge_lr)
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def unit(f):
        f = tf.reshape(f, [f.shape[0], -1])
        return f / tf.maximum(tf.norm(f, axis=1, keepdims=True), 1e-6)

    def knowledge(group, kernel, g, b):
        z = tf.nn.conv2d(tf.concat(group, -1), kernel, 1, "VALID")
        mean, var = tf.nn.moments(z, [0, 1, 2])
        return (z - mean) / tf.sqrt(var + 1e-3) * g + b

    def factor(r, key):
        magnitude = tf.abs(r)
        tau = taus.get(key, tf.reduce_mean(magnitude))
        active = magnitude > tau
        fraction = 1.0 - tf.reduce_mean(tf.cast(active, tf.float32))
        taus[key] = tau * tf.exp(-rate * (fraction - target))
        return tf.where(active, boost, floor)

    def srp(r, j):
        if recode == "weights":
            return r
        gain = factor(r, j)

        @tf.custom_gradient
        def identity(v):
            return tf.identity(v), lambda dy: dy * gain
        return identity(r)

    for xb, yb in zip(x, y):
        t_maps = t_tap(xb, training=False)
        with tf.GradientTape(persistent=True) as s_tape:
            logits, *s_maps = s_tap(xb, training=True)
            s_unit = [unit(f) for f in s_maps]
            with s_tape.stop_recording():
                with tf.GradientTape() as k_tape:
                    loss_k = 0.0
                    for j, s_j in enumerate(s_unit):
                        residual = unit(knowledge(t_maps[j * k:(j + 1) * k], *agg[j])) - s_j
                        sigma = tf.stop_gradient(tf.math.reduce_std(residual) / tf.sqrt(
                            tf.reduce_mean(tf.square(s_j))))
                        loss_k += (1 + gamma * sigma) * tf.reduce_mean(
                            tf.reduce_sum(tf.square(residual), 1))
                k_opt.apply(k_tape.gradient(loss_k, agg_vars), agg_vars)
                targets = [unit(knowledge(t_maps[j * k:(j + 1) * k], *agg[j]))
                           for j in range(len(s_unit))]
            prior = sum(tf.reduce_mean(tf.reduce_sum(tf.square(srp(s_j - targets[j], j)), 1))
                        for j, s_j in enumerate(s_unit))
            data_term = ce(yb, logits)
            prior = mu * prior
        variables = student.trainable_variables
        gradients = s_tape.gradient(data_term, variables)
        for i, (g, p, v) in enumerate(zip(gradients, s_tape.gradient(prior, variables),
                                          variables)):
            if p is not None and recode == "weights" and len(v.shape) >= 2:
                p = p * factor(v, v.path)
            gradients[i] = g if p is None else g + p
        s_opt.apply(gradients, variables)
    return [v.numpy() for v in student.trainable_variables]


@pytest.mark.parametrize("recode", ["residual", "weights"])
def test_kr_step_matches_an_independent_reference(recode):
    hp = dict(mu=0.5, gamma=1.0, boost=2.0, floor=0.0, target=0.5, rate=0.05, recode=recode)
    x, y = _batches()
    teacher, student = _models()
    distiller = kr_keras.KRDistiller(teacher, student, mu=hp["mu"], gamma=hp["gamma"],
                                     boost=hp["boost"], floor=hp["floor"], recode=recode,
                                     target_inactive=hp["target"], threshold_rate=hp["rate"])
    distiller.compile(optimizer=_sgd(0.05), auxiliary_optimizer=_sgd(0.1))
    initial = [[a.projection.kernel.numpy(), a.batch_norm.gamma.numpy(),
                a.batch_norm.beta.numpy()] for a in distiller.kr.aggregators]
    for xb, yb in zip(x, y):
        distiller.train_on_batch(xb, yb)
    ref_teacher, ref_student = _models()
    expected = _reference_kr(ref_teacher, ref_student, initial, x, y, student_lr=0.05,
                             knowledge_lr=0.1, **hp)
    moved = [not np.allclose(a, b.numpy())
             for a, b in zip(expected, _models()[1].trainable_variables)]
    assert any(moved)
    for got, want in zip([v.numpy() for v in student.trainable_variables], expected):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5)


def _fit_steps(method, seed=0, **hparams):
    x, y = _batches(steps=3, seed=seed)
    teacher, student = _models(seed)
    distiller = kr_keras.build_distiller(method, teacher, student, **hparams)
    distiller.compile(optimizer=_sgd(0.05), auxiliary_optimizer=_sgd(0.1))
    for xb, yb in zip(x, y):
        distiller.train_on_batch(xb, yb)
    return [v.numpy() for v in student.trainable_variables]


@pytest.mark.parametrize("method,control", [("kr", "ce"), ("kr_dense", "ce"),
                                            ("kr_weights", "ce"), ("kr+kd", "kd")])
def test_kr_at_mu_zero_trains_the_student_exactly_as_its_control(method, control):
    """The prior term is the only difference: at mu = 0 the same seed and
    data give the same student weights as the control's."""
    got = _fit_steps(method, mu=0.0)
    for a, b in zip(got, _fit_steps(control)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    if method == "kr":  # ... and the prior term does change them at mu > 0.
        assert any(not np.allclose(a, b) for a, b in zip(_fit_steps(method, mu=1.0), got))


def test_posterior_methods_share_their_control_weights():
    teacher, student = _models()
    kd = kr_keras.build_distiller("kd", teacher, student)
    kr_kd = kr_keras.build_distiller("kr+kd", teacher, student)
    assert kr_kd.student_loss_weight == kd.student_loss_weight
    assert kr_kd.distillation_loss_weights[1:] == kd.distillation_loss_weights
    kdgan = kr_keras.build_distiller("kdgan", teacher, student)
    kr_kdgan = kr_keras.build_distiller("kr+kdgan", teacher, student)
    assert kr_kdgan.student_loss_weight == kdgan.student_loss_weight
    assert kr_kdgan.distillation_loss_weights[1:] == kdgan.distillation_loss_weights


def test_knowledge_step_changes_only_aggregators_and_student_step_only_student():
    x, y = _batches(steps=1)
    for student_lr, knowledge_lr in ((0.0, 0.1), (0.1, 0.0)):
        teacher, student = _models()
        distiller = kr_keras.KRDistiller(teacher, student)
        distiller.compile(optimizer=_sgd(student_lr), auxiliary_optimizer=_sgd(knowledge_lr))
        groups = {"teacher": teacher.weights, "student": student.trainable_weights,
                  "knowledge": distiller.kr.trainable_variables,
                  "tau": [r.tau for r in distiller.kr.recoders]}
        before = {key: [v.numpy().copy() for v in vs] for key, vs in groups.items()}
        distiller.train_on_batch(x[0], y[0])
        changed = {key: [not np.array_equal(b, v.numpy()) for b, v in zip(before[key], vs)]
                   for key, vs in groups.items()}
        assert not any(changed["teacher"])
        assert all(changed["tau"])  # its own rule, whatever the learning rates
        assert all(changed["knowledge"]) == (knowledge_lr > 0)
        assert not any(changed["knowledge"]) == (knowledge_lr == 0)
        assert all(changed["student"]) == (student_lr > 0)


def test_srp_filters_every_gradient_within_tau():
    """floor 0 and a huge tau: with mu > 0 and no CE the student must not move
    (KR-Dense, the same objective without SRP, does)."""
    x, y = _batches(steps=1)
    moved = {}
    for sparse in (True, False):
        teacher, student = _models()
        distiller = kr_keras.KRDistiller(teacher, student, mu=1.0, student_loss_weight=0.0,
                                         sparse=sparse, target_inactive=1.0)
        distiller.compile(optimizer=_sgd(0.1), auxiliary_optimizer=_sgd(0.0))
        for recoder in distiller.kr.recoders:
            recoder.initialized.assign(1.0)
            recoder.tau.assign(1e9)
        before = [v.numpy().copy() for v in student.trainable_variables]
        distiller.train_on_batch(x[0], y[0])
        moved[sparse] = any(not np.array_equal(b, v.numpy())
                            for b, v in zip(before, student.trainable_variables))
    assert moved == {True: False, False: True}


def test_group_taps_infers_and_explains_mismatches():
    assert kr_lib.group_taps(list("abcdef"), ["x", "y"]) == [list("abc"), list("def")]
    with pytest.raises(ValueError, match="7 teacher taps do not split into 3 groups"):
        kr_lib.group_taps(list("abcdefg"), list("xyz"))
    with pytest.raises(ValueError, match="group_size=3"):
        kr_lib.group_taps(list("abcdef"), list("xyz"), group_size=3)
    with pytest.raises(ValueError, match="group_size=0"):
        kr_lib.group_taps(list("abc"), list("abc"), group_size=0)
    with pytest.raises(ValueError, match="pass student_layers"):
        kr_lib.group_taps(list("abc"), [])


def test_l2_matching_is_blind_to_the_scale_of_the_maps():
    rng = np.random.default_rng(0)
    k = tf.constant(rng.normal(size=(2, 4, 4, 3)), tf.float32)
    s = tf.constant(rng.normal(size=(2, 4, 4, 3)), tf.float32)

    def distance(student, normalization):
        return float(kr_lib.residual_distance(
            kr_lib.to_measure(student, normalization) - kr_lib.to_measure(k, normalization),
            normalization))
    assert distance(0.1 * s, "l2") == pytest.approx(distance(s, "l2"), rel=1e-5)
    assert distance(0.1 * s, "none") != pytest.approx(distance(s, "none"), rel=1e-2)
    # Per-example squared distance of unit vectors: 2 - 2 cos, in [0, 4].
    a, b = (np.reshape(t.numpy(), (2, -1)) for t in (s, k))
    cos = np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert distance(s, "l2") == pytest.approx(np.mean(2 - 2 * cos), rel=1e-5)
    with pytest.raises(ValueError, match="feature_normalization"):
        kr_lib.KnowledgeRepresenting(feature_normalization="l1")


def test_residual_spread_separates_groups_whatever_their_scale():
    rng = np.random.default_rng(0)
    s = rng.normal(size=(4, 8, 8, 6)).astype("float32")
    close, far = 0.1 * rng.normal(size=s.shape), 3.0 * rng.normal(size=s.shape)
    small = float(kr_lib.residual_spread(tf.constant(close, tf.float32), s))
    large = float(kr_lib.residual_spread(tf.constant(far, tf.float32), s))
    assert small == pytest.approx(np.std(close) / np.sqrt(np.mean(s ** 2)), rel=1e-4)
    assert large / small > 10
    assert float(kr_lib.residual_spread(tf.constant(10 * far, tf.float32), 10 * s)) == \
        pytest.approx(large, rel=1e-4)


def test_aggregator_statistics_move_once_per_step():
    x, y = _batches(steps=1)
    teacher, student = _models()
    distiller = kr_keras.KRDistiller(teacher, student)
    distiller.compile(optimizer=_sgd(0.01), auxiliary_optimizer=_sgd(0.1))
    aggregator = distiller.kr.aggregators[0]
    names = distiller.kr.teacher_layer_name[:3]
    tapped = keras.Model(teacher.inputs, [teacher.get_layer(n).output for n in names])
    batch_mean = np.asarray(aggregator._projection(
        aggregator.merge(tapped(x[0], training=False)))).mean((0, 1, 2))
    before = aggregator.batch_norm.moving_mean.numpy().copy()
    distiller.train_on_batch(x[0], y[0])
    # One update with momentum 0.9 (a second would move it by ~0.19 of the gap).
    np.testing.assert_allclose(aggregator.batch_norm.moving_mean.numpy() - before,
                               0.1 * (batch_mean - before), rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("refresh", [True, False])
def test_prior_matches_the_knowledge_after_or_before_the_aggregators_step(refresh):
    x, y = _batches(steps=1)
    teacher, student = _models()
    distiller = kr_keras.KRDistiller(teacher, student, refresh_knowledge=refresh)
    distiller.compile(optimizer=_sgd(0.05), auxiliary_optimizer=_sgd(0.5))
    kr = distiller.kr
    t_maps = distiller.teacher_forward(x[0])[1]
    t_maps = [t_maps[n] for n in kr.teacher_layer_name]
    s_maps = distiller.student_forward(x[0], training=True)[1]
    s_maps = [s_maps[n] for n in kr.student_layer_name]

    def prior():
        knowledge = kr.knowledge(t_maps, training=True, update_statistics=False)
        return sum(float(kr_lib.residual_distance(
            kr_lib.to_measure(s, "l2") - kr_lib.to_measure(k, "l2"), "l2"))
            for s, k in zip(s_maps, knowledge))
    before = prior()
    logs = distiller.train_on_batch(x[0], y[0], return_dict=True)
    after = prior()
    assert abs(after - before) > 1e-3 * before
    assert logs["prior_loss"] == pytest.approx(after if refresh else before, rel=1e-5)


def test_prior_warmup_ramps_mu_linearly():
    x, y = _batches(steps=2)
    teacher, student = _models()
    distiller = kr_keras.KRDistiller(teacher, student, mu=2.0, prior_warmup_steps=4)
    distiller.compile(optimizer=_sgd(0.01))
    for step in (1, 2):
        logs = distiller.train_on_batch(x[step - 1], y[step - 1], return_dict=True)
        np.testing.assert_allclose(
            logs["loss"], logs["student_loss"] + 2.0 * step / 4 * logs["prior_loss"], rtol=1e-4)
        distiller.reset_metrics()
    # Evaluation after 2 steps weighs the prior as the next step would: mu * 3/4.
    logs = distiller.evaluate(x[0], y[0], verbose=0, return_dict=True)
    np.testing.assert_allclose(
        logs["loss"], logs["student_loss"] + 2.0 * 3 / 4 * logs["prior_loss"], rtol=1e-4)
    with pytest.raises(ValueError, match="prior_warmup_steps"):
        kr_lib.KnowledgeRepresenting(prior_warmup_steps=-1)


def test_loss_config_round_trip():
    loss = kr_lib.KnowledgeRepresenting(teacher_layers=["a", "b"], student_layers="s",
                                        gamma=0.5, sparse=False, refresh_knowledge=False)
    again = kr_lib.KnowledgeRepresenting.from_config(loss.get_config())
    assert again.get_config() == loss.get_config()
    assert again.student_layer_name == ["s"] and again.sparse is False


def test_srp_on_weights_keeps_one_threshold_per_kernel_and_logs_its_alignment():
    x, y = _batches(steps=2)
    teacher, student = _models()
    distiller = kr_keras.build_distiller("kr_weights", teacher, student, mu=0.5)
    distiller.compile(optimizer=_sgd(0.05))
    logs = [distiller.train_on_batch(xb, yb, return_dict=True) for xb, yb in zip(x, y)][-1]
    kr = distiller.kr
    kernels = [v for v in student.trainable_variables if len(v.shape) >= 2]
    assert kr.recoded_paths == [v.path for v in kernels]
    # tau starts at each kernel's mean |W| and then tracks its median |W|;
    # the classifier, which the prior does not reach, keeps no threshold.
    taus = np.array([float(r.tau) for r in kr.recoders[:-1]])
    medians = np.array([np.median(np.abs(v.numpy())) for v in kernels[:-1]])
    assert np.all(taus > 0.5 * medians) and np.all(taus < 2.0 * medians)
    assert kernels[-1].path == student.layers[-1].kernel.path and float(kr.recoders[-1].tau) == 0
    # With floor 0, half of each kernel filtered: a turn, not a rescaling.
    assert 0.0 < logs["srp_cosine"] < 0.99 and logs["srp_norm_ratio"] > 0
    assert logs["inactive_fraction"] == pytest.approx(0.5, abs=0.1)
    with pytest.raises(ValueError, match="'residual' or 'weights'"):
        kr_lib.KnowledgeRepresenting(recode="kernel")


def test_srp_on_weights_of_a_nested_student_with_repeated_variable_paths():
    """Two sub-models built by one function repeat `conv/kernel`: each
    kernel still gets its own threshold."""
    def block(channels, name):
        inputs = keras.Input((16, 16, channels))
        return keras.Model(inputs, keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs),
                           name=name)

    keras.utils.set_random_seed(0)
    inputs = keras.Input(SHAPE)
    x = keras.layers.ReLU(name="tap")(block(4, "second")(block(1, "first")(inputs)))
    outputs = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(x))
    student = keras.Model(inputs, outputs)
    teacher = _models()[0]
    distiller = kr_keras.KRDistiller(teacher, student, mu=0.5, recode="weights",
                                     teacher_layers=["stage3_block2_out"],
                                     student_layers=["tap"])
    distiller.compile(optimizer=_sgd(0.05))
    x, y = _batches(steps=1)
    distiller.train_on_batch(x[0], y[0])
    paths = distiller.kr.recoded_paths
    assert paths[:2] == ["conv/kernel", "conv/kernel"]
    kernels = [v for v in student.trainable_variables if len(v.shape) >= 2][:2]
    taus = [float(r.tau) for r in distiller.kr.recoders[:2]]
    # Each threshold starts at its own kernel's mean |W| (one rule step on).
    for tau, kernel in zip(taus, kernels):
        assert tau == pytest.approx(np.mean(np.abs(kernel.numpy())), rel=0.1)
    assert taus[0] != pytest.approx(taus[1], rel=0.05)
