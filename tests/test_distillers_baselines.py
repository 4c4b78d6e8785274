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
def test_fit_freeze_metrics_and_save_load(method, tmp_path):
    distiller = build(method)
    distiller.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                      metrics=["accuracy"])
    teacher_before = [w.numpy().copy() for w in distiller.teacher.weights]
    helpers_before = [v.numpy().copy() for v in getattr(distiller, "auxiliary_variables", [])]
    student_before = [w.numpy().copy() for w in distiller.student.trainable_weights]
    x, y = data()
    history = distiller.fit(x, y, batch_size=16, epochs=2, verbose=0).history
    assert {"loss", "student_loss", "distillation_loss", "accuracy"} <= set(history)
    assert history["loss"][-1] < history["loss"][0]
    for before, after in zip(teacher_before, distiller.teacher.weights):
        np.testing.assert_array_equal(before, after.numpy())
    assert any(not np.allclose(b, a.numpy()) for b, a in
               zip(student_before, distiller.student.trainable_weights))
    assert all(not np.allclose(b, v.numpy()) for b, v in
               zip(helpers_before, getattr(distiller, "auxiliary_variables", [])) if b.ndim > 1)
    logs = distiller.evaluate(x, y, verbose=0, return_dict=True)
    assert {"loss", "student_loss", "distillation_loss"} <= set(logs)
    predicted = distiller.predict(x, verbose=0)
    np.testing.assert_allclose(predicted, distiller.student.predict(x, verbose=0), atol=1e-5)
    config = distiller.get_config()
    assert distiller.__class__.from_config(copy.deepcopy(config)).get_config() == config
    distiller.save(tmp_path / "d.keras")
    loaded = keras.models.load_model(tmp_path / "d.keras")
    assert type(loaded) is type(distiller)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), predicted, atol=1e-5)


def test_helpers_train_with_the_given_optimizer():
    distiller = build("fitnet")
    aux = keras.optimizers.Adam(1e-3)
    distiller.compile(optimizer="sgd", auxiliary_optimizer=aux)
    assert distiller.auxiliary_optimizer is aux and aux.built
    x, y = data()
    logs = distiller.fit(x, y, batch_size=8, epochs=1, verbose=0).history
    assert "auxiliary_loss" in logs
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
