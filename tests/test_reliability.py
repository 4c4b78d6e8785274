"""Resume after SIGKILL, determinism, the NaN guard and one-line bad-input errors."""

import json
import os
import signal
import time
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

import kr_keras
from experiments.lib import DistillConfig, NonFiniteGuard, NonFiniteLossError
from experiments.lib import distillers as distiller_lib
from experiments.lib import io, training
from experiments.lib.cli import one_line
from experiments.lib.taps import stage_aligned_taps
from tests import experiment_runs as runs


def _weights(path):
    return [np.asarray(w) for w in keras.saving.load_model(path, compile=False).weights]


def test_sigkill_resume_equals_uninterrupted_run_bit_for_bit():
    paths, _ = runs.student()
    t, _ = runs.teacher()
    ckpt = os.path.join(runs.workdir(), "ckpt_b")
    out = os.path.join(runs.workdir(), "student_b.keras")
    args = [f"--teacher={t}", *runs.DISTILL, f"--checkpoint_dir={ckpt}", f"--output={out}"]
    process = runs.popen("distill", *args)
    state_path = os.path.join(ckpt, "state.json")
    deadline = time.time() + 180
    while time.time() < deadline and process.poll() is None:
        if os.path.exists(state_path) and json.load(open(state_path))["step"] >= 4:
            break
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = json.load(open(state_path))["step"]
    assert 4 <= killed_at < 32 and not os.path.exists(out)
    resumed = runs.run("distill", *args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    # --deterministic: the resumed run and the uninterrupted one (another
    # process) end with bit-identical weights.
    for a, b in zip(_weights(paths["output"]), _weights(out)):
        np.testing.assert_array_equal(a, b)


def test_nan_guard_names_step_and_term_and_keeps_checkpoint():
    t, _ = runs.teacher()
    ckpt = os.path.join(runs.workdir(), "ckpt_nan")
    result = runs.run("distill", f"--teacher={t}", *runs.DISTILL, "--student_lr=1e12",
                      "--knowledge_lr=1e12", "--save_every_steps=1", f"--checkpoint_dir={ckpt}",
                      f"--output={runs.workdir()}/nan.keras")
    assert result.returncode == 1
    line = runs.last_line(result.stderr)
    assert line.startswith("error: Non-finite ") and " at step " in line, line
    assert "Traceback" not in result.stderr
    state = json.load(open(os.path.join(ckpt, "state.json")))
    assert state["step"] >= 1  # a good checkpoint was written before the blow-up
    import h5py
    with h5py.File(os.path.join(ckpt, state["weights"])) as f:
        arrays = []
        f.visititems(lambda n, o: arrays.append(o[()]) if isinstance(o, h5py.Dataset) else None)
    assert arrays and all(np.all(np.isfinite(a)) for a in arrays)
    assert not os.path.exists(os.path.join(runs.workdir(), "nan.keras"))


def test_guard_names_the_first_bad_term():
    guard = NonFiniteGuard(initial_step=10)
    guard.on_train_batch_end(0, {"student_loss": 1.0, "loss": 1.0})
    with pytest.raises(NonFiniteLossError, match=r"Non-finite knowledge_loss=nan at step 12"):
        guard.on_train_batch_end(1, {"student_loss": 1.0, "knowledge_loss": float("nan"),
                                     "loss": float("nan")})


# ------------------------------------------------------------- bad inputs
@pytest.fixture(scope="module")
def toy_teacher():
    return kr_keras.models.cifar_resnet(8, 0.25, input_shape=(28, 28, 1))


def _config(**kw):
    kw.setdefault("teacher", runs.teacher()[0])
    return DistillConfig(student_depth=8, student_width=0.25,
                         batch_size=32, train_take=64, **kw)


def test_unknown_method_flag_exits_with_one_line():
    result = runs.run("distill", "--method=nope", "--teacher=x.keras")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "--method=nope" in result.stderr


def test_missing_teacher_file_exits_with_one_line():
    result = runs.run("distill", "--teacher=/nonexistent/t.keras")
    assert result.returncode == 1
    assert runs.last_line(result.stderr).startswith("error: Teacher file not found")
    assert "Traceback" not in result.stderr


def test_corrupt_teacher_file(tmp_path):
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a valid `.keras` archive"):
        io.load_model(str(bad))
    truncated = tmp_path / "trunc.keras"
    with zipfile.ZipFile(truncated, "w") as z:
        z.writestr("config.json", "{")
    with pytest.raises(ValueError, match="could not be loaded"):
        io.load_model(str(truncated))


def test_unknown_dataset():
    with pytest.raises(ValueError, match="Unknown dataset"):
        training.build_distillation(_config(dataset="mnist3d"))


def test_class_count_mismatch(tmp_path):
    teacher = kr_keras.models.cifar_resnet(8, 0.25, num_classes=7, input_shape=(28, 28, 1))
    path = io.save_model(teacher, str(tmp_path / "t7.keras"))
    with pytest.raises(ValueError, match="predicts 7 classes"):
        training.build_distillation(_config(teacher=path))


def test_input_shape_mismatch(tmp_path):
    teacher = kr_keras.models.cifar_resnet(8, 0.25, input_shape=(32, 32, 3))
    path = io.save_model(teacher, str(tmp_path / "t32.keras"))
    with pytest.raises(ValueError, match=r"takes \(32, 32, 3\) images"):
        training.build_distillation(_config(teacher=path))


def test_tap_counts_that_do_not_divide(toy_teacher):
    student = kr_keras.models.cifar_resnet(8, 0.25, input_shape=(28, 28, 1))
    with pytest.raises(ValueError, match="fewer than group_size=2"):
        stage_aligned_taps(toy_teacher, student, 2)
    with pytest.raises(ValueError, match="teacher taps do not split into 3 groups"):
        distiller_lib.build("kr", toy_teacher, student,
                            {"teacher_layers": ["stage1_block1_out", "stage2_block1_out"],
                             "student_layers": ["stage1_block1_out", "stage2_block1_out",
                                                "stage3_block1_out"]})


def test_group_size_below_one(toy_teacher):
    student = kr_keras.models.cifar_resnet(8, 0.25, input_shape=(28, 28, 1))
    with pytest.raises(ValueError, match="group_size"):
        stage_aligned_taps(toy_teacher, student, 0)


def test_teacher_not_built():
    student = kr_keras.models.cifar_resnet(8, 0.25, input_shape=(28, 28, 1))
    with pytest.raises(ValueError, match="is not built"):
        distiller_lib.build("kr", keras.Sequential([keras.layers.Dense(10)]), student, {})


@pytest.mark.parametrize("role", ["teacher", "student"])
@pytest.mark.parametrize("softmax", ["dense", "layer"])
def test_a_final_softmax_names_the_fix(role, softmax):
    def model(name):
        x = inputs = keras.Input((8, 8, 1))
        x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(x))
        if name != role:
            return keras.Model(inputs, keras.layers.Dense(3)(x), name=name)
        if softmax == "dense":
            return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x), name=name)
        return keras.Model(inputs, keras.layers.Softmax()(keras.layers.Dense(3)(x)), name=name)

    teacher, student = model("teacher"), model("student")
    with pytest.raises(ValueError, match=f"The {role} '{role}' ends in a softmax.*"
                                         "classifier_activation=None"):
        kr_keras.distillers.build_distiller("kd", teacher, student)
    if softmax == "dense":  # the fix the message gives, on the built model
        broken = teacher if role == "teacher" else student
        broken.layers[-1].activation = keras.activations.linear
        kr_keras.distillers.build_distiller("kd", teacher, student)


def test_labels_out_of_range_one_line():
    ds = training.train_pipeline("fashion_mnist", 8, 0, take=16, num_classes=5)
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        for _ in ds:
            pass
    assert one_line(info.value).startswith("kr_keras: label out of range [0, 5)")


def test_nan_images_check_numerics_one_line(tmp_path):
    x = np.random.RandomState(0).randint(0, 255, (16, 8, 8, 1)).astype("float32")
    x[3, 2, 2, 0] = np.nan
    path = tmp_path / "nan.npz"
    np.savez(path, x_train=x, y_train=np.arange(16) % 2, x_test=x, y_test=np.arange(16) % 2)
    ds = training.train_pipeline(f"npz:{path}", 8, 0, check_numerics=True, num_classes=2)
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        for _ in ds:
            pass
    assert one_line(info.value).startswith("kr_keras.data: NaN or Inf in the images")


def test_method_rejects_explicit_foreign_hparam(toy_teacher):
    student = kr_keras.models.cifar_resnet(8, 0.25, input_shape=(28, 28, 1))
    distiller, used = distiller_lib.build("ce", toy_teacher, student, {"mu": 0.5})
    assert used == {} and not distiller_lib.takes_knowledge_optimizer(distiller)
    with pytest.raises(ValueError, match="does not take"):
        distiller_lib.build("ce", toy_teacher, student, {"mu": 0.5}, explicit={"mu"})
