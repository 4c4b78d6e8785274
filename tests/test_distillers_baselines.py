"""The baseline distillers of `build_distiller`: fit, freeze, metrics, saving."""

import copy

import keras
import numpy as np
import pytest

import kr_keras

NEW_METHODS = ["kd", "fitnet", "fsp", "nst", "at", "kdgan", "kr+kdgan"]


def nets(fsp=False):
    keras.utils.set_random_seed(0)
    teacher = kr_keras.models.cifar_resnet(8, width_multiplier=0.5, input_shape=(8, 8, 1))
    width = 0.5 if fsp else 0.25
    student = kr_keras.models.cifar_resnet(8, width_multiplier=width, input_shape=(8, 8, 1))
    return teacher, student


def data(n=16):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 8, 8, 1)).astype("float32"), rng.integers(0, 10, n)


def build(method, **hparams):
    teacher, student = nets(fsp=method == "fsp")
    if method.startswith("kr"):
        hparams.setdefault("group_size", 1)
    return kr_keras.build_distiller(method, teacher, student, **hparams)


def test_registry_lists_new_methods_and_rejects_unknown():
    assert set(NEW_METHODS) <= set(kr_keras.distillers.names())
    teacher, student = nets()
    with pytest.raises(ValueError, match="Known methods"):
        kr_keras.build_distiller("hint", teacher, student)


@pytest.mark.parametrize("method", NEW_METHODS)
def test_fit_lowers_loss_trains_student_and_freezes_teacher(method):
    distiller = build(method)
    distiller.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                      metrics=["accuracy"])
    teacher_before = [w.numpy().copy() for w in distiller.teacher.weights]
    student_before = [w.numpy().copy() for w in distiller.student.trainable_weights]
    x, y = data()
    history = distiller.fit(x, y, batch_size=16, epochs=3, verbose=0).history
    assert {"loss", "student_loss", "distillation_loss", "accuracy"} <= set(history)
    assert history["loss"][-1] < history["loss"][0]
    for before, after in zip(teacher_before, distiller.teacher.weights):
        np.testing.assert_array_equal(before, after.numpy())
    assert any(not np.allclose(b, a.numpy()) for b, a in
               zip(student_before, distiller.student.trainable_weights))
    logs = distiller.evaluate(x, y, verbose=0, return_dict=True)
    assert {"loss", "student_loss", "distillation_loss"} <= set(logs)
    np.testing.assert_allclose(distiller.predict(x, verbose=0),
                               distiller.student.predict(x, verbose=0), atol=1e-5)


@pytest.mark.parametrize("method", ["fitnet", "kdgan"])
def test_helpers_train_with_their_own_optimizer(method):
    distiller = build(method)
    aux = keras.optimizers.Adam(1e-3)
    distiller.compile(optimizer="sgd", auxiliary_optimizer=aux)
    assert distiller.auxiliary_optimizer is aux and aux.built
    before = [v.numpy().copy() for v in distiller.auxiliary_variables]
    x, y = data()
    logs = distiller.fit(x, y, batch_size=8, epochs=1, verbose=0).history
    assert "auxiliary_loss" in logs
    assert all(not np.allclose(b, v.numpy()) for b, v in
               zip(before, distiller.auxiliary_variables) if b.ndim > 1)
    assert int(aux.iterations) == 2


def test_kr_kdgan_loss_adds_prior_and_posterior_terms():
    distiller = build("kr+kdgan", mu=0.5)
    distiller.compile(optimizer=keras.optimizers.SGD(0.01),
                      auxiliary_optimizer=keras.optimizers.SGD(0.1))
    x, y = data()
    distiller.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert int(distiller.discriminator_optimizer.iterations) == 2
    logs = distiller.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    expected = logs["student_loss"] + 0.5 * logs["prior_loss"] + logs["distillation_loss"]
    np.testing.assert_allclose(logs["loss"], expected, rtol=1e-4)


def test_kd_loss_is_weighted_sum():
    distiller = build("kd")
    distiller.compile(optimizer="sgd")
    x, y = data()
    logs = distiller.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    expected = 0.1 * logs["student_loss"] + 0.9 * logs["distillation_loss"]
    np.testing.assert_allclose(logs["loss"], expected, rtol=1e-4)


def test_fsp_two_stage_schedule_switches_terms():
    distiller = build("fsp", fsp_stage_epochs=1)
    distiller.compile(optimizer="sgd")
    x, y = data()
    distiller.fit(x, y, batch_size=16, epochs=1, verbose=0)
    logs = distiller.evaluate(x, y, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["loss"], 50.0 * logs["distillation_loss"], rtol=1e-4)
    distiller.fit(x, y, batch_size=16, epochs=2, initial_epoch=1, verbose=0)
    logs = distiller.evaluate(x, y, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["loss"], logs["student_loss"], rtol=1e-4)


def test_fsp_rejects_unequal_widths():
    teacher, student = nets(fsp=False)
    with pytest.raises(ValueError, match="channel count"):
        kr_keras.build_distiller("fsp", teacher, student)


@pytest.mark.parametrize("method", NEW_METHODS)
def test_keras_save_load_predicts_the_same(method, tmp_path):
    distiller = build(method)
    x, _ = data(8)
    config = distiller.get_config()
    clone = distiller.__class__.from_config(copy.deepcopy(config))
    assert clone.get_config() == config
    path = tmp_path / "d.keras"
    distiller.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(distiller)
    np.testing.assert_allclose(loaded.predict(x, verbose=0),
                               distiller.predict(x, verbose=0), atol=1e-5)
