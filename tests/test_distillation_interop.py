"""kr_keras losses inside `keras.distillation.Distiller` (issue 8)."""

import keras
import numpy as np
import pytest

import kr_keras
from kr_keras import losses


def nets():
    keras.utils.set_random_seed(0)
    teacher = kr_keras.models.cifar_resnet(8, width_multiplier=0.5, input_shape=(8, 8, 1))
    student = kr_keras.models.cifar_resnet(8, width_multiplier=0.25, input_shape=(8, 8, 1))
    return teacher, student


def data(n=16):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 8, 8, 1)).astype("float32"), rng.integers(0, 10, n)


def test_kd_loss_equals_keras_logits_distillation():
    rng = np.random.default_rng(3)
    t, s = rng.normal(size=(2, 4, 10)).astype("float32")
    np.testing.assert_allclose(losses.KD(4.0).compute_loss(t, s),
                               losses.kd_loss(t, s, 4.0), rtol=1e-4)


LOSSES = {
    "at": (lambda: losses.AttentionTransfer("stage3_block1_out", "stage3_block1_out"),
           lambda t, s: losses.at_loss(s, t)),
    "nst": (lambda: losses.NeuronSelectivityTransfer("stage2_block1_out", "stage3_block1_out"),
            lambda t, s: losses.nst_loss(s, t)),
    "fitnet": (lambda: losses.FitNetDistillation("stage2_block1_out", "stage2_block1_out"),
               None),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_fits_inside_keras_distiller(name, tmp_path):
    make, reference = LOSSES[name]
    teacher, student = nets()
    loss = make()
    distiller = keras.distillation.Distiller(
        teacher, student, [loss], distillation_loss_weights=[10.0],
        student_loss_weight=0.5,
    )
    distiller.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = [w.numpy().copy() for w in student.trainable_weights]
    x, y = data()
    history = distiller.fit(x, y, batch_size=8, epochs=2, verbose=0).history
    assert np.isfinite(history["loss"]).all()
    assert any(not np.allclose(b, w.numpy()) for b, w in zip(before, student.trainable_weights))
    t_feat = teacher.get_layer(loss.teacher_layer_name).output
    s_feat = student.get_layer(loss.student_layer_name).output
    t_map = keras.Model(teacher.inputs, t_feat)(x)
    s_map = keras.Model(student.inputs, s_feat)(x)
    if reference is None:  # FitNet: its regressor trained with the student
        reg = loss.regressor
        assert any(v is reg.trainable_variables[0] for v in distiller.trainable_variables)
        reference = lambda t, s: losses.fitnet_loss(reg(s, training=True), t)  # noqa: E731
    np.testing.assert_allclose(loss.compute_loss(t_map, s_map), reference(t_map, s_map),
                               rtol=1e-5)
    config = type(loss).from_config(loss.get_config()).get_config()
    assert config == loss.get_config()
    distiller.save(tmp_path / "d.keras")
    loaded = keras.models.load_model(tmp_path / "d.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), distiller.predict(x, verbose=0),
                               atol=1e-5)
