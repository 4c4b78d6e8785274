"""`TopKError` and the ImageNet top-1/top-5 helpers."""

import numpy as np
import pytest
import tensorflow as tf

import keras
from kr_keras.metrics import TopKError, imagenet_metrics, top_k_errors


def numpy_top_k_error(labels, logits, k):
    top = np.argsort(-logits, axis=-1)[:, :k]
    return 1.0 - np.mean([label in row for label, row in zip(labels, top)])


def test_values_match_numpy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(64, 20)).astype("float32")
    labels = rng.integers(0, 20, size=64)
    for k in (1, 5):
        metric = TopKError(k=k)
        metric.update_state(labels, logits)
        assert metric.name == f"top{k}_error"
        np.testing.assert_allclose(float(metric.result()), numpy_top_k_error(labels, logits, k), atol=1e-6)


def test_config_round_trip():
    metric = TopKError(k=3, name="err3")
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(metric))
    assert isinstance(restored, TopKError) and restored.k == 3 and restored.name == "err3"
    restored.update_state([0, 1], [[0.0, 1.0, 2.0, 3.0], [3.0, 2.0, 1.0, 0.0]])
    assert float(restored.result()) == pytest.approx(0.5)


def test_imagenet_metrics_in_compile_and_helper_agree():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    model = keras.Model(inputs, keras.layers.Dense(10)(inputs))
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=imagenet_metrics())
    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 6)).astype("float32")
    y = rng.integers(0, 10, size=32).astype("int32")
    logs = model.evaluate(x, y, batch_size=8, return_dict=True, verbose=0)
    errors = top_k_errors(model, tf.data.Dataset.from_tensor_slices((x, y)).batch(8))
    assert errors["top1_error"] == pytest.approx(logs["top1_error"], abs=1e-6)
    assert errors["top5_error"] == pytest.approx(logs["top5_error"], abs=1e-6)
    logits = model.predict(x, verbose=0)
    assert errors["top1_error"] == pytest.approx(numpy_top_k_error(y, logits, 1), abs=1e-6)


def test_bad_k():
    with pytest.raises(ValueError, match="Received: k=0"):
        TopKError(k=0)


def test_evaluate_saved_reports_top1_and_top5_error_with_100_classes(tmp_path):
    import keras
    import numpy as np

    from experiments.lib.evaluation import evaluate_saved
    from kr_keras.models import cifar_resnet

    rng = np.random.default_rng(0)
    path = tmp_path / "d.npz"
    np.savez(path, x_train=rng.integers(0, 255, (32, 8, 8, 3), dtype=np.uint8),
             y_train=np.arange(32) % 100, x_test=rng.integers(0, 255, (16, 8, 8, 3), dtype=np.uint8),
             y_test=np.arange(16), num_classes=100)
    keras.utils.set_random_seed(0)
    model = cifar_resnet(8, width_multiplier=0.25, num_classes=100, input_shape=(8, 8, 3))
    report = evaluate_saved(model, f"npz:{path}", batch_size=8)
    assert abs(report["top1_error"] - (1 - report["accuracy"])) < 1e-9
    assert abs(report["top5_error"] - (1 - report["top5_accuracy"])) < 1e-9
    assert report["top5_accuracy"] >= report["accuracy"]
