"""Export round trip: a fresh process serves what the Keras student predicts."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from kr_keras.export import serving_archive
from tests import experiment_runs as runs

LOAD = """
import sys, numpy as np, tensorflow as tf
served = tf.saved_model.load(sys.argv[1])
serve = served.signatures["serving_default"]
out = serve(images=tf.constant(np.load(sys.argv[2])))
wrong = []  # Wrong shapes: the error message, or "accepted".
for shape in ([2, 32, 32, 4], [2, 28, 28, 2], [2, 28, 28, 3], [2, 28, 28]):
    try:
        serve(images=tf.zeros(shape, tf.uint8))
        wrong.append("accepted")
    except tf.errors.InvalidArgumentError as error:
        wrong.append(error.message)
np.savez(sys.argv[3], probabilities=out["probabilities"].numpy(), classes=out["classes"].numpy(),
         wrong=np.array(wrong))
"""


def test_export_round_trip_and_refusal():
    paths, _ = runs.student()
    base = os.path.join(runs.workdir(), "serving")
    result = runs.run("export", f"--student={paths['output']}", f"--base_dir={base}",
                      "--name=kr", "--version=1")
    assert result.returncode == 0, result.stderr[-3000:]
    export_dir = os.path.join(base, "kr", "1")
    assert os.path.exists(os.path.join(export_dir, "saved_model.pb"))
    assert not [n for n in os.listdir(os.path.join(base, "kr")) if n != "1"]  # no temp left

    images = np.random.RandomState(0).randint(0, 256, (5, 28, 28, 1)).astype("uint8")
    np.save(os.path.join(runs.workdir(), "images.npy"), images)
    out = os.path.join(runs.workdir(), "served.npz")
    subprocess.run([sys.executable, "-c", LOAD, export_dir,
                    os.path.join(runs.workdir(), "images.npy"), out],
                   check=True, env=runs.ENV, capture_output=True)
    served = np.load(out)
    student = keras.saving.load_model(paths["output"], compile=False)
    x = (images.astype("float32") / 255.0 - 0.2860) / 0.3530
    expected = keras.ops.convert_to_numpy(keras.ops.softmax(student(x, training=False)))
    np.testing.assert_allclose(served["probabilities"], expected, atol=1e-5)
    np.testing.assert_array_equal(served["classes"], expected.argmax(-1))
    # Wrong shapes fail with INVALID_ARGUMENT naming the expected shape. Without
    # the check TF runs a k-channel batch through the 1-channel stem conv (4
    # filters at width 0.25) as a grouped conv: k = 2 and 4 gave predictions.
    for message in served["wrong"]:
        assert "takes uint8 images of shape [batch, 28, 28, 1]" in str(message), message

    # The same version dir with another model is refused, in one line.
    teacher, _ = runs.teacher()
    refused = runs.run("export", f"--student={teacher}", f"--base_dir={base}", "--name=kr",
                       "--version=1")
    assert refused.returncode == 1
    assert runs.last_line(refused.stderr).startswith("error: The export directory already holds")
    assert "Traceback" not in refused.stderr


def test_shape_check_runs_before_the_model():
    """The check must be an ancestor of the model's first conv in the serving
    graph: automatic control dependencies run it but in no set order, and CI
    once saw the conv's grouped-convolution error instead of the check's."""
    inputs = keras.Input((8, 8, 1))
    conv = keras.layers.Conv2D(4, 3)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(conv)))
    archive = serving_archive(model, (0.0,), (1.0,))
    graph = archive._tf_trackable.serving_default.get_concrete_function().graph
    (check,) = [op for op in graph.get_operations() if op.type == "Assert"]
    (conv_op,) = [op for op in graph.get_operations() if op.type == "Conv2D"]
    ancestors, stack = set(), [conv_op]
    while stack:
        op = stack.pop()
        for parent in list(op.control_inputs) + [t.op for t in op.inputs]:
            if parent.name not in ancestors:
                ancestors.add(parent.name)
                stack.append(parent)
    assert check.name in ancestors


def test_export_with_a_users_own_normalization(tmp_path):
    import tensorflow as tf

    from kr_keras.export import export_student

    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(5)(x), name="users_model")
    mean, std = (0.5, 0.4, 0.3), (0.25, 0.2, 0.1)
    export_dir = export_student(model, (mean, std), tmp_path / "users" / "1")
    images = np.random.RandomState(1).randint(0, 256, (4, 6, 6, 3)).astype("uint8")
    served = tf.saved_model.load(export_dir).signatures["serving_default"](
        images=tf.constant(images))
    x = (images.astype("float32") / 255.0 - np.array(mean, "float32")) / np.array(std, "float32")
    expected = keras.ops.convert_to_numpy(keras.ops.softmax(model(x, training=False)))
    np.testing.assert_allclose(served["probabilities"].numpy(), expected, atol=1e-5)
    for bad in [((0.5,), (0.25,)), ((0.5,) * 3, (0.0,) * 3), 3]:
        with pytest.raises(ValueError, match="mean, std"):
            export_student(model, bad, tmp_path / "bad" / "1")


def test_a_student_of_unknown_input_size_serves_any_image_size(tmp_path):
    """A fully convolutional student (`keras.Input((None, None, 3))`) serves
    images of any height and width; a wrong channel count still fails."""
    import tensorflow as tf

    from kr_keras.export import export_student

    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(5)(x))
    serve = tf.saved_model.load(export_student(
        model, ((0.0,) * 3, (1.0,) * 3), tmp_path / "any" / "1")).signatures["serving_default"]
    for size in (8, 13):
        images = np.random.RandomState(size).randint(0, 256, (2, size, size, 3)).astype("uint8")
        expected = keras.ops.softmax(model(images.astype("float32") / 255.0, training=False))
        np.testing.assert_allclose(serve(images=tf.constant(images))["probabilities"].numpy(),
                                   keras.ops.convert_to_numpy(expected), atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"shape \[batch, None, None, 3\]"):
        serve(images=tf.zeros([2, 8, 8, 1], tf.uint8))
