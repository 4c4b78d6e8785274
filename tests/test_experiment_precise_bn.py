"""Precise BN in the experiment training path (`training.distill`)."""

import keras
import numpy as np
import pytest

from kr_keras import data
from experiments.lib import config as config_lib
from experiments.lib import io, training
from kr_keras.models import cifar_resnet


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("precise_bn")
    rng = np.random.default_rng(0)
    path = folder / "d.npz"
    np.savez(path, x_train=rng.integers(0, 256, (32, 8, 8, 3), dtype=np.uint8),
             y_train=np.arange(32) % 4,
             x_test=rng.integers(0, 256, (8, 8, 8, 3), dtype=np.uint8),
             y_test=np.arange(8) % 4)
    dataset = f"npz:{path}"
    info = data.info(dataset)
    keras.utils.set_random_seed(0)
    teacher = cifar_resnet(8, width_multiplier=0.5, num_classes=info.num_classes,
                           input_shape=info.image_shape)
    teacher.save(folder / "teacher.keras")
    return dataset, str(folder)


def _distill(setup, samples, name):
    dataset, folder = setup
    config = config_lib.DistillConfig(
        method="kd", dataset=dataset, teacher=f"{folder}/teacher.keras", student_width=0.25,
        epochs=2, batch_size=8, seed=1, deterministic=True, precise_bn_samples=samples,
        output=f"{folder}/{name}.keras")
    result = training.distill(config, verbose=0)
    return result, io.load_model(config.output, "student")


def _bn(model):
    return [l for l in model._flatten_layers() if isinstance(l, keras.layers.BatchNormalization)]


def test_distill_reestimates_bn_statistics_only(setup):
    on, student_on = _distill(setup, 16, "on")
    off, student_off = _distill(setup, 0, "off")
    assert (on["precise_bn_samples"], off["precise_bn_samples"]) == (16, 0)
    assert on["config"]["precise_bn_samples"] == 16
    # The same weights (precise BN does not touch the trajectory) ...
    for a, b in zip(student_on.trainable_weights, student_off.trainable_weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # ... but other moving statistics: the EMA (momentum 0.9 after 8 steps)
    # is far from the batch averages.
    means_on = np.concatenate([l.moving_mean.numpy() for l in _bn(student_on)])
    means_off = np.concatenate([l.moving_mean.numpy() for l in _bn(student_off)])
    assert not np.allclose(means_on, means_off, atol=1e-3)
    # The saved student holds statistics a recomputation reproduces
    # exactly up to the sampled images (16 of the 32, freshly shuffled):
    # the scale of every layer's variance is right.
    dataset, _ = setup
    ref = keras.models.clone_model(student_on)
    ref.set_weights(student_on.get_weights())
    from kr_keras.callbacks import recompute_batch_norm_statistics
    recompute_batch_norm_statistics(ref, training.train_pipeline(dataset, 32, 1), 32)
    for a, b in zip(_bn(student_on), _bn(ref)):
        ratio = a.moving_variance.numpy() / b.moving_variance.numpy()
        assert 0.2 < np.median(ratio) < 5.0


def test_bad_precise_bn_samples_is_refused(setup):
    dataset, _ = setup
    with pytest.raises(ValueError, match="Received: precise_bn_samples=-1"):
        training.precise_bn_callbacks(-1, dataset, 8, 0)
    assert training.precise_bn_callbacks(0, dataset, 8, 0) == []


def test_evaluate_saved_can_reestimate_first(setup):
    from experiments.lib.evaluation import evaluate_saved

    dataset, folder = setup
    model = io.load_model(f"{folder}/teacher.keras", "teacher")   # never trained: stats (0, 1)
    before = _bn(model)[0].moving_mean.numpy().copy()
    assert evaluate_saved(model, dataset, batch_size=8)["precise_bn_samples"] == 0
    np.testing.assert_array_equal(_bn(model)[0].moving_mean.numpy(), before)
    result = evaluate_saved(model, dataset, batch_size=8, precise_bn_samples=16)
    assert result["precise_bn_samples"] == 16
    assert not np.allclose(_bn(model)[0].moving_mean.numpy(), before)
    with pytest.raises(ValueError, match="Received: precise_bn_samples=-2"):
        evaluate_saved(model, dataset, precise_bn_samples=-2)
