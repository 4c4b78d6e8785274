"""Every method of `build_distiller` through one compile/fit/save loop, and
the shared distiller contract (issue 16 items 2-5, 7, 8, 13)."""

import copy
import inspect
import os
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import kr_keras
from conftest import snapshot
from distribute_script import CHEAP, data, models
from kr_keras.distillers import methods, registry
from experiments.lib import distillers as distiller_lib


def build(method, **hparams):
    keras.utils.set_random_seed(0)
    teacher, student = models()
    return kr_keras.build_distiller(method, teacher, student, **hparams)


def optimizers_of(distiller):
    return {"optimizer": distiller.optimizer,
            **{f"helper_{i}": o for i, o in enumerate(distiller.helper_optimizers)}}


def sgd(rate=0.05):
    return keras.optimizers.SGD(rate, momentum=0.9)


@pytest.mark.parametrize("method", kr_keras.distillers.names())
def test_every_method_fits_and_reloads_with_one_compile_signature(method, tmp_path):
    distiller = build(method, **CHEAP.get(method, {}))
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 1, 0.5)
    auxiliary = keras.optimizers.SGD(schedule, momentum=0.9)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        distiller.compile(optimizer=sgd(), auxiliary_optimizer=auxiliary,
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                          metrics=["accuracy"])
    helpers = [v for l in distiller.distillation_losses
               if isinstance(l, keras.layers.Layer) for v in l.trainable_variables]
    uses_auxiliary = any(getattr(l, "helper_optimizer", "auxiliary") == "auxiliary"
                         for l in distiller.helper_losses())
    assert any("ignores auxiliary_optimizer" in str(w.message)
               for w in caught) == (not uses_auxiliary)
    teacher_before = snapshot(distiller.teacher.weights)
    student_before = snapshot(distiller.student.trainable_weights)
    helpers_before = snapshot(helpers)
    x, y = data(duplicate_halves=False, batches=2)
    logs = distiller.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0).history
    assert {"loss", "student_loss", "accuracy"} <= set(logs)
    assert all(np.isfinite(v[-1]) for v in logs.values()), logs
    for before, after in zip(teacher_before, distiller.teacher.weights):
        np.testing.assert_array_equal(before, after.numpy())
    assert any(not np.allclose(b, w.numpy()) for b, w in
               zip(student_before, distiller.student.trainable_weights))
    if helpers:
        for optimizer in distiller.helper_optimizers:
            assert int(optimizer.iterations) >= 2
        assert (distiller.auxiliary_optimizer is auxiliary) == uses_auxiliary
        assert any(not np.allclose(b, v.numpy()) for b, v in zip(helpers_before, helpers))
    np.testing.assert_allclose(distiller(x[:8]), distiller.student(x[:8]), atol=1e-6)
    config = distiller.get_config()
    assert type(distiller).from_config(copy.deepcopy(config)).get_config() == config
    # A reloaded distiller trains on with the same optimizers: same configs
    # (schedules included) and the same state (iterations, momenta).
    distiller.save(tmp_path / "d.keras")
    loaded = keras.models.load_model(tmp_path / "d.keras")
    assert type(loaded) is type(distiller)
    np.testing.assert_allclose(loaded(x[:8]), distiller(x[:8]), atol=1e-6)
    saved, reloaded = optimizers_of(distiller), optimizers_of(loaded)
    assert sorted(saved) == sorted(reloaded)
    for key, optimizer in saved.items():
        assert reloaded[key].get_config() == optimizer.get_config(), key
        assert len(reloaded[key].variables) == len(optimizer.variables) > 1, key
        for a, b in zip(optimizer.variables, reloaded[key].variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=f"{key} {a.path}")


def test_knowledge_lr_reaches_kr_aggregators_alone():
    """The binaries' knowledge optimizer trains KR's aggregators; KDGAN's
    discriminator copies the student optimizer's config (issue 16 item 2), and
    FitNet's regressor steps with the student optimizer itself."""
    for method in ("fitnet", "kdgan", "kr", "kr+kdgan"):
        distiller = build(method)
        distiller_lib.compile_distiller(distiller, keras.optimizers.SGD(0.01),
                                        keras.optimizers.SGD(0.5))
        rate = lambda o: pytest.approx(float(o.learning_rate))  # noqa: E731
        if method == "fitnet":
            assert distiller.auxiliary_optimizer is None
            continue
        assert rate(distiller.auxiliary_optimizer) == (0.5 if method.startswith("kr") else 0.01)
        if method == "kr+kdgan":  # the discriminator: a copy of the student's
            assert rate(distiller.helper_optimizers[1]) == 0.01


@pytest.mark.parametrize("method", ["fitnet", "cc", "vid", "ft"])
def test_helpers_on_the_students_objective_step_with_the_student_optimizer(method):
    """RepDistiller trains regressors, embeddings and FT's translator in the
    student's optimizer (`trainable_list`); only helpers with their own
    objective (FT's paraphraser) get a helper optimizer. One SGD step without
    momentum: each joint helper moves by exactly -lr * its gradient."""
    distiller = build(method, **CHEAP.get(method, {}))
    distiller.compile(optimizer=keras.optimizers.SGD(0.3))
    joint = kr_keras.distillers.distiller.helper_variables(
        distiller.distillation_losses, adversarial=False)
    own = kr_keras.distillers.distiller.helper_variables(
        distiller.distillation_losses, adversarial=True)
    assert joint and len(distiller.helper_optimizers) == (1 if own else 0)
    student_paths = {v.path for v in distiller.student.trainable_variables}
    for optimizer in distiller.helper_optimizers:  # never a joint helper
        assert not {v.path for v in joint} & {v.path for v in optimizer._trainable_variables}
    x, y = data(duplicate_halves=False, batches=1)
    x, y = tf.constant(x[:8]), tf.constant(y[:8])
    distiller.stage_mode = (True, True)  # main objective: the paraphraser stays
    if distiller.stages:
        distiller.stage_weights.assign(distiller.weights_at_epoch(10**6))
    with tf.GradientTape() as tape:
        teacher = distiller.teacher_forward(x)
        student = distiller.student_forward(x, training=True)
        weights = distiller.weights_at_epoch(10**6)
        objective = distiller.distillation(distiller.distillation_losses, weights[1:],
                                           teacher, student, y, True)
        objective += weights[0] * distiller.student_loss(y, student[0], None)[0]
    gradients = tape.gradient(objective, joint)
    before = [v.numpy() for v in joint]
    distiller.train_step((x, y))
    for variable, start, gradient in zip(joint, before, gradients):
        assert variable.path not in student_paths
        np.testing.assert_allclose(variable.numpy(), start - 0.3 * gradient.numpy(),
                                   rtol=1e-4, atol=1e-6, err_msg=variable.path)


def test_ft_paraphraser_trains_at_the_reference_rate_unless_told():
    """RepDistiller pre-trains FT's paraphraser at lr 0.01 (momentum 0.9)
    whatever the student's rate; `auxiliary_optimizer` overrides it."""
    distiller = build("ft")
    distiller.compile(optimizer=sgd(0.05))
    helper = distiller.auxiliary_optimizer
    assert float(helper.learning_rate) == pytest.approx(0.01)
    assert float(helper.momentum) == pytest.approx(0.9)
    distiller.compile(optimizer=sgd(0.05), auxiliary_optimizer=sgd(0.2))
    assert float(distiller.auxiliary_optimizer.learning_rate) == pytest.approx(0.2)


def test_kr_compile_keeps_keras_positional_order_and_aliases():
    distiller = build("kr")
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, name="ce")
    student = sgd(0.01)
    distiller.compile(student, loss)
    assert distiller.optimizer is student and distiller._compile_arguments["loss"] is loss
    student, knowledge = sgd(0.01), sgd(0.2)
    distiller.compile(student, auxiliary_optimizer=knowledge)
    assert distiller.optimizer is student and distiller.auxiliary_optimizer is knowledge
    # What keras.Model.compile takes; one instance per helper group, never shared.
    distiller.compile("sgd", auxiliary_optimizer="sgd")
    assert distiller.auxiliary_optimizer is not distiller.optimizer
    assert isinstance(distiller.auxiliary_optimizer, keras.optimizers.SGD)
    shared = sgd(0.1)
    distiller.compile(shared, auxiliary_optimizer=shared)
    assert distiller.auxiliary_optimizer is not distiller.optimizer
    two = build("kr+kdgan")
    two.compile(optimizer={"class_name": "SGD", "config": {"learning_rate": 0.03}},
                auxiliary_optimizer="adam")
    first, second = two.helper_optimizers
    assert isinstance(first, keras.optimizers.Adam) and first is not second
    assert float(second.learning_rate) == pytest.approx(0.03)


def test_posterior_rejects_feature_losses():
    teacher, student = models()
    with pytest.raises(ValueError, match="posterior.*logits"):
        kr_keras.KRDistiller(teacher, student, posterior=kr_keras.losses.AttentionTransfer(
            "stage2_block1_out", "stage2_block1_out"))


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_float32_teacher_runs_in_the_global_compute_dtype(policy, tmp_path):
    keras.mixed_precision.set_global_policy("float32")
    teacher, _ = models()
    teacher.save(tmp_path / "t.keras")
    keras.mixed_precision.set_global_policy(policy)
    try:
        teacher = keras.models.load_model(tmp_path / "t.keras")
        _, student = models()
        for method in ("kd", "kr"):
            distiller = kr_keras.build_distiller(method, teacher, student)
            logits, features = distiller.teacher_forward(data(False)[0])
            assert logits.dtype == policy.split("_")[1], method
            assert all(f.dtype == logits.dtype for f in features.values())
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("method", ["kd", "fsp", "kr"])
def test_student_regularisers_are_outside_the_cross_entropy_weight(method):
    keras.utils.set_random_seed(0)
    teacher, student = models()
    for layer in student.layers:
        if isinstance(layer, keras.layers.Conv2D):
            layer.kernel.regularizer = keras.regularizers.L2(0.1)
    distiller = kr_keras.build_distiller(method, teacher, student, student_loss_weight=0.5)
    distiller.compile(optimizer=sgd())
    x, y = data(False)
    logs = distiller.evaluate(x, y, verbose=0, return_dict=True)
    regularisers = float(sum(np.sum(r) for r in student.losses))
    assert regularisers > 1e-3
    # `distillation_loss` is every weighted term: KD's, FSP's or KR's mu * prior.
    rest = logs["distillation_loss"]
    if method == "kr":
        np.testing.assert_allclose(rest, 0.1 * logs["prior_loss"], rtol=1e-4)
    np.testing.assert_allclose(logs["loss"], 0.5 * logs["student_loss"] + rest + regularisers,
                               rtol=1e-4)


@pytest.mark.parametrize("method", ["kd", "kr"])
def test_dict_inputs(method):
    def net(name, blocks):
        inputs = keras.Input((8, 8, 3), name="image")
        x = inputs
        for b in range(blocks):
            x = keras.layers.Conv2D(4, 3, padding="same")(x)
            x = keras.layers.ReLU(name=f"stage1_block{b + 1}_out")(x)
        outputs = keras.layers.Dense(4)(keras.layers.GlobalAveragePooling2D()(x))
        return keras.Model({"image": inputs}, outputs, name=name)

    distiller = kr_keras.build_distiller(method, net("teacher", 2), net("student", 1))
    distiller.compile(optimizer=sgd())
    x, y = data(False)
    logs = distiller.fit({"image": x}, y, batch_size=8, epochs=1, verbose=0).history
    assert np.isfinite(logs["loss"][-1])


def test_explicit_empty_taps_are_not_replaced_by_defaults():
    for method in ("at", "nst", "kr"):
        with pytest.raises(ValueError, match="student"):
            build(method, teacher_layers=[], student_layers=[])


def test_hyperparameters_are_declared_explicitly():
    assert registry.hyperparameters("kd") == {
        "temperature", "student_loss_weight", "distillation_loss_weight"}
    assert registry.hyperparameters("ce") == set()
    assert {"mu", "group_size", "adversarial_weight"} <= registry.hyperparameters("kr+kdgan")
    for method in ("kd", "kdgan"):
        with pytest.raises(ValueError, match=r"does not take \['teacher_layers'\]"):
            build(method, teacher_layers=["stage1_block1_out"])
    with pytest.raises(ValueError, match="Known methods"):
        build("hint")
    kr = {"mu", "student_loss_weight", "teacher_layers", "student_layers", "group_size",
          "gamma", "boost", "floor", "target_inactive", "threshold_rate",
          "prior_warmup_steps", "feature_normalization", "refresh_knowledge", "recode"}
    assert registry.hyperparameters("kr") == registry.hyperparameters("kr_dense") == kr
    assert registry.hyperparameters("kr_weights") == kr
    assert registry.hyperparameters("kr+kd") == kr | {"temperature", "distillation_loss_weight"}
    # Each declared name reaches the distiller.
    distiller = build("kr+kd", gamma=0.5, refresh_knowledge=False, temperature=3.0,
                      distillation_loss_weight=0.7, student_loss_weight=0.2)
    assert (distiller.kr.gamma, distiller.kr.refresh_knowledge) == (0.5, False)
    assert distiller.posterior[0].temperature == 3.0
    assert distiller.distillation_loss_weights == [0.1, 0.7]
    assert distiller.student_loss_weight == 0.2


def test_loss_is_the_weighted_sum_of_the_reported_terms():
    distiller = build("kd")
    distiller.compile(optimizer="sgd")
    x, y = data(False)
    logs = distiller.evaluate(x, y, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["loss"], 0.1 * logs["student_loss"] + logs["distillation_loss"],
                               rtol=1e-5)


@pytest.mark.parametrize("method", ["fsp", "ab"])
def test_stage_is_the_distillation_loss_alone_then_the_main_fit(method):
    """FSP's and AB's declared pre-training stage: their loss alone for the
    stage's epochs, then the main objective (cross-entropy alone for both,
    at the registry defaults of a tiny pair)."""
    distiller = build(method, **{f"{method}_stage_epochs": 1})
    distiller.compile(optimizer="sgd")
    x, y = data(False)
    distiller.fit(x, y, batch_size=8, epochs=1, verbose=0)
    logs = distiller.evaluate(x, y, verbose=0, return_dict=True)
    assert logs["distillation_loss"] > 0
    np.testing.assert_allclose(logs["loss"], logs["distillation_loss"], rtol=1e-5)
    distiller.fit(x, y, batch_size=8, epochs=2, initial_epoch=1, verbose=0)
    logs = distiller.evaluate(x, y, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["loss"], logs["student_loss"], rtol=1e-5)


def snapshot_changed(before, variables):
    return [not np.array_equal(b, v.numpy()) for b, v in zip(before, variables)]


def test_ft_stage_trains_the_paraphraser_alone_then_freezes_it():
    distiller = build("ft", ft_stage_epochs=1)
    distiller.compile(optimizer=sgd())
    loss = distiller.distillation_losses[0]
    paraphraser = (loss.paraphraser_encoder.trainable_variables
                   + loss.paraphraser_decoder.trainable_variables)
    student, para = snapshot(distiller.student.weights), snapshot(paraphraser)
    translator = snapshot(loss.translator.weights)
    x, y = data(False)
    distiller.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert not any(snapshot_changed(student, distiller.student.weights))  # BN statistics too
    assert not any(snapshot_changed(translator, loss.translator.weights))
    assert any(snapshot_changed(para, paraphraser))
    para = snapshot(paraphraser)
    distiller.fit(x, y, batch_size=8, epochs=2, initial_epoch=1, verbose=0)
    assert not any(snapshot_changed(para, paraphraser))
    assert any(snapshot_changed(student, distiller.student.trainable_weights))
    assert any(snapshot_changed(translator, loss.translator.trainable_weights))


def test_dkd_gets_the_epoch_for_its_warmup():
    distiller = build("dkd", warmup_epochs=4)
    distiller.compile(optimizer="sgd")
    x, y = data(False)
    values = []
    for epoch in range(2):
        distiller.fit(x, y, batch_size=8, epochs=epoch + 1, initial_epoch=epoch, verbose=0)
        logs = distiller.evaluate(x, y, verbose=0, return_dict=True)
        teacher = distiller.teacher(x)
        full = kr_keras.losses.dkd_loss(distiller.student(x), teacher, y)
        values.append(logs["distillation_loss"] / float(full))
    np.testing.assert_allclose(values, [0.25, 0.5], rtol=1e-4)


def test_fsp_rejects_unequal_widths():
    teacher = kr_keras.models.cifar_resnet(8, width_multiplier=0.5, input_shape=(8, 8, 1))
    student = kr_keras.models.cifar_resnet(8, width_multiplier=0.25, input_shape=(8, 8, 1))
    with pytest.raises(ValueError, match="channel count"):
        kr_keras.build_distiller("fsp", teacher, student)


def test_compile_config_records_the_auxiliary_optimizer_whichever_loss_takes_it():
    """The discriminator (a copy of the student's optimizer) comes first here;
    the recorded auxiliary optimizer is still the one FT's paraphraser trains with."""
    teacher, student = models()
    losses = [kr_keras.losses.KDGANDistillation(4.0),
              kr_keras.losses.FactorTransfer("stage2_block1_out", "stage2_block1_out")]
    distiller = kr_keras.distillers.Distiller(teacher, student, losses, [0.1, 1.0])
    auxiliary = keras.optimizers.SGD(0.3)
    distiller.compile(optimizer=sgd(0.01), auxiliary_optimizer=auxiliary)
    discriminator, paraphraser = distiller.helper_optimizers
    assert paraphraser is auxiliary and discriminator is not auxiliary
    config = keras.saving.deserialize_keras_object(
        distiller.get_compile_config()["auxiliary_optimizer"])
    assert float(config.learning_rate) == pytest.approx(0.3)


@keras.saving.register_keras_serializable(package="kr_keras_tests")
class SubclassedNet(keras.Model):
    """A subclassed classifier (no functional graph)."""

    def __init__(self, width=4, classes=3, **kwargs):
        super().__init__(**kwargs)
        self.width, self.classes = width, classes
        self.conv = keras.layers.Conv2D(width, 3, activation="relu")
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.head = keras.layers.Dense(classes)

    def call(self, x, training=None):
        return self.head(self.pool(self.conv(x)))

    def get_config(self):
        return {**super().get_config(), "width": self.width, "classes": self.classes}


@pytest.mark.parametrize("method", ["kd", "kdgan"])
def test_subclassed_models_train_with_logit_methods_as_functional_ones(method, tmp_path):
    x = np.random.RandomState(0).rand(16, 8, 8, 1).astype("float32")
    y = np.random.RandomState(1).randint(0, 3, 16)

    def run(functional):
        keras.utils.set_random_seed(0)
        nets = [SubclassedNet(8, name="t"), SubclassedNet(4, name="s")]
        for net in nets:
            net(x[:1])
        if functional:  # the same layers and initial weights in a functional model
            inputs = keras.Input((8, 8, 1))
            nets = [keras.Model(inputs, net(inputs), name=net.name) for net in nets]
        distiller = kr_keras.build_distiller(method, *nets)
        distiller.compile(optimizer="sgd")
        history = distiller.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
        return distiller, history

    distiller, subclassed = run(functional=False)
    _, functional = run(functional=True)
    assert subclassed["loss"][0] > 0
    for key in subclassed:
        np.testing.assert_allclose(subclassed[key], functional[key], rtol=1e-5, err_msg=key)
    distiller.save(tmp_path / "d.keras")
    reloaded = keras.models.load_model(tmp_path / "d.keras")
    np.testing.assert_allclose(reloaded.student.predict(x, verbose=0),
                               distiller.student.predict(x, verbose=0), rtol=1e-5)


@pytest.mark.parametrize("method", ["at", "kr", "fitnet"])
def test_subclassed_models_with_feature_methods_name_the_fix(method):
    teacher, student = SubclassedNet(8, name="t"), SubclassedNet(4, name="s")
    with pytest.raises(ValueError, match="not built.*call a subclassed model once"):
        kr_keras.build_distiller("kd", teacher, student)
    for net in (teacher, student):
        net(np.zeros((1, 8, 8, 1), "float32"))
    with pytest.raises(ValueError, match=f"'{method}' taps layers of the teacher.*subclassed.*"
                                         r"functional API.*\(ce, kd, dkd, kdgan\)"):
        kr_keras.build_distiller(method, teacher, student)


@pytest.mark.parametrize("optimizer, auxiliary", [
    ({"class_name": "SGD", "config": {"learning_rate": 0.02, "momentum": 0.9}}, "adam"),
    ("rmsprop", {"class_name": "Adam", "config": {"learning_rate": 0.003}})])
def test_compile_takes_identifiers_and_config_dicts_and_reloads_them(optimizer, auxiliary,
                                                                      tmp_path):
    distiller = build("kr")
    distiller.compile(optimizer=optimizer, auxiliary_optimizer=auxiliary)
    def config(optimizer):
        return {k: v for k, v in optimizer.get_config().items() if k != "name"}

    expected = {key: config(keras.optimizers.get(copy.deepcopy(value)))
                for key, value in (("optimizer", optimizer), ("helper_0", auxiliary))}
    x, y = data(duplicate_halves=False, batches=1)
    distiller.fit(x, y, batch_size=8, epochs=1, verbose=0)
    distiller.save(tmp_path / "d.keras")
    loaded = keras.models.load_model(tmp_path / "d.keras")
    for key, optimizer in optimizers_of(loaded).items():
        assert config(optimizer) == expected[key], key
    loaded.fit(x, y, batch_size=8, epochs=1, verbose=0)  # trains on


@pytest.mark.parametrize("method", ["kr", "kdgan"])
def test_backup_and_restore_resumes_an_interrupted_fit_exactly(method, tmp_path):
    """Keras' own BackupAndRestore keeps every optimizer's state (the student's
    and the helpers'): an interrupted and resumed fit ends on the weights of an
    uninterrupted one."""
    x, y = data(duplicate_halves=False, batches=4)

    def fit(callbacks):
        distiller = build(method)
        distiller.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9))
        distiller.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0, callbacks=callbacks)
        return distiller

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    reference = fit([])
    with pytest.raises(KeyboardInterrupt):
        fit([keras.callbacks.BackupAndRestore(str(tmp_path)), Interrupt()])
    resumed = fit([keras.callbacks.BackupAndRestore(str(tmp_path))])
    for a, b in zip(reference.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert [int(o.iterations) for o in resumed.helper_optimizers] == [
        int(o.iterations) for o in reference.helper_optimizers]


def test_the_method_docs_methods_md_adds_trains_and_reloads(tmp_path):
    """docs/methods.md's "one file, one registry line": its module and its
    line, run as written, give a method that builds, trains and reloads."""
    import re
    import types

    doc = open(os.path.join(os.path.dirname(__file__), "..", "docs", "methods.md")).read()
    section = doc.split("## Adding a method")[1].split("\n## ")[0]
    source, line = re.findall(r"```python\n(.*?)```", section, re.S)
    module = types.ModuleType("cos")
    exec(compile(source, "docs/methods.md", "exec"), module.__dict__)
    try:
        exec(line, {"register_losses": registry.register_losses, "cos": module})
        assert "cos" in kr_keras.distillers.names()
        with pytest.raises(ValueError, match="does not take"):
            build("cos", temperature=4.0)
        distiller = build("cos")
        distiller.compile(optimizer="sgd")
        x, y = data(False)
        history = distiller.fit(x, y, batch_size=8, epochs=1, verbose=0).history
        assert np.isfinite(history["distillation_loss"][-1])
        assert history["distillation_loss"][-1] > 0
        distiller.save(tmp_path / "cos.keras")
        loaded = keras.models.load_model(tmp_path / "cos.keras")
        np.testing.assert_allclose(loaded(x[:4]), distiller(x[:4]), atol=1e-6)
    finally:
        registry._BUILDERS.pop("cos", None)
        registry._HYPERPARAMETERS.pop("cos", None)
