"""GPU checks (marker `gpu`): a KR `fit` under mixed_float16, one under XLA,
and MirroredStrategy over two logical GPUs carved from one card.

Skipped without a GPU. `benchmarks/gpu_check.py` runs them (`pytest -m gpu`)
and writes the report. With `KR_KERAS_GPU_SMOKE=1` (set by `gpu_check.py
--smoke`) they run on the CPU with tiny nets and two logical CPUs, so every
code path runs on machines without a GPU.

The strategy check runs in a fresh interpreter (`python tests/test_gpu.py
mirrored OUT.json`, the `__main__` block below) because logical devices must
be configured before TensorFlow initialises its devices, as in
`tests/test_distribute.py`.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

SMOKE = os.environ.get("KR_KERAS_GPU_SMOKE") == "1"
GPU = bool(tf.config.list_physical_devices("GPU"))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not (GPU or SMOKE), reason="no GPU visible to TensorFlow"),
]

# The strategy check's subprocess needs GPU memory while this process holds
# some: grow this process's allocation on demand instead of reserving the
# card (too late if an earlier test has initialised the GPU already).
for _gpu in tf.config.list_physical_devices("GPU"):
    try:
        tf.config.experimental.set_memory_growth(_gpu, True)
    except RuntimeError:
        pass


@pytest.fixture(scope="module", autouse=True)
def mirrored_run(tmp_path_factory):
    """Starts the strategy check's subprocess before the first test of this
    module, so that it runs while the in-process tests do."""
    out = tmp_path_factory.mktemp("mirrored") / "mirrored.json"
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "mirrored", str(out)], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    yield process, out
    if process.poll() is None:
        process.kill()
        process.communicate()


def pair_and_data(steps):
    """Teacher, student and `steps` batches: ResNet-14 -> ResNet-8 on
    32x32x3 batches of 64 on a GPU; the tiny two-stage nets of
    `distribute_script.py` on 8x8x3 batches of 8 in smoke mode."""
    import keras

    import kr_keras
    from distribute_script import models

    keras.utils.set_random_seed(0)
    if GPU and not SMOKE:
        shape, batch, classes = (32, 32, 3), 64, 10
        teacher = kr_keras.models.cifar_resnet(14, input_shape=shape)
        student = kr_keras.models.cifar_resnet(8, input_shape=shape)
    else:
        shape, batch, classes = (8, 8, 3), 8, 4
        teacher, student = models()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(steps * batch, *shape)).astype("float32")
    y = rng.integers(0, classes, size=steps * batch).astype("int32")
    return teacher, student, x, y, batch


def fit_kr(jit_compile=False, steps=2 if SMOKE else 4):
    import keras

    import kr_keras

    teacher, student, x, y, batch = pair_and_data(steps)
    distiller = kr_keras.KRDistiller(teacher, student)
    before = [w.numpy() for w in distiller.student.trainable_weights]
    distiller.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                      jit_compile=jit_compile)
    history = distiller.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
    moved = [not np.allclose(b, w.numpy()) for b, w in zip(before, student.trainable_weights)]
    return distiller, history.history, moved


def test_kr_fit_mixed_float16_has_finite_losses():
    import keras

    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        distiller, logs, moved = fit_kr()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert {"loss", "knowledge_loss", "prior_loss"} <= set(logs), logs
    assert all(np.isfinite(v[-1]) for v in logs.values()), logs
    assert isinstance(distiller.optimizer, keras.optimizers.LossScaleOptimizer)
    assert distiller.student.compute_dtype == "float16"
    assert any(moved)


def test_kr_fit_xla_has_finite_losses():
    distiller, logs, moved = fit_kr(jit_compile=True)
    assert distiller.jit_compile is True
    assert {"loss", "knowledge_loss", "prior_loss"} <= set(logs), logs
    assert all(np.isfinite(v[-1]) for v in logs.values()), logs
    assert any(moved)


def test_mirrored_two_logical_devices_first_step_equals_one_device(mirrored_run):
    """One KR `fit` step on a global batch of 8 under MirroredStrategy over
    two logical devices of one card (two logical CPUs in smoke mode) updates
    every weight as on one device. The batch is two identical halves, so
    batch normalisation sees the same statistics on each replica (see
    tests/test_distribute.py); a missing or doubled 1/replicas factor moves
    the weights by half or twice as much and fails the tolerance."""
    process, out = mirrored_run
    try:
        output, _ = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f"the strategy subprocess timed out after 300 s:\n{output[-4000:]}")
    assert process.returncode == 0, output[-4000:]
    with open(out) as f:
        result = json.load(f)
    assert result["replicas"] == 2
    assert result["devices"] == (["/cpu:0", "/cpu:1"] if SMOKE or not GPU
                                 else ["/gpu:0", "/gpu:1"])
    assert max(result["change"]) > 1e-3  # the step moved the weights
    mismatched = [(p, d, c) for p, d, c in zip(result["paths"], result["diff"], result["change"])
                  if d > 1e-5 + 1e-3 * c]
    assert not mismatched, mismatched
    for key, value in result["logs_one"].items():
        assert result["logs_two"][key] == pytest.approx(value, rel=1e-4, abs=1e-6), key


def mirrored(out):
    """Subprocess side: carve two logical devices, then one KR step on one
    device and on both; writes per-weight differences as JSON."""
    kind = "GPU" if (GPU and not SMOKE) else "CPU"
    device = tf.config.list_physical_devices(kind)[0]
    # Memory limits are required for logical GPUs; 2 GiB each is plenty here.
    config = tf.config.LogicalDeviceConfiguration(memory_limit=2048 if kind == "GPU" else None)
    tf.config.set_logical_device_configuration(device, [config, config])
    # TensorFloat-32 rounds float32 convolutions to 10-bit mantissas on
    # Ampere and later; the comparison needs full float32.
    tf.config.experimental.enable_tensor_float_32_execution(False)
    import kr_keras
    from distribute_script import build, data, one_step

    devices = [f"/{kind.lower()}:0", f"/{kind.lower()}:1"]
    two = kr_keras.distribute.get_strategy("mirrored", devices=devices)
    one = kr_keras.distribute.get_strategy("default")
    x, y = data(duplicate_halves=True)
    single = build("kr", one)
    init = single.get_weights()
    logs_one = one_step(single, x, y)
    double = build("kr", two, init)
    logs_two = one_step(double, x, y)
    after_one, after_two = single.get_weights(), double.get_weights()
    with open(out, "w") as f:
        json.dump({
            "replicas": two.num_replicas_in_sync,
            "devices": devices,
            "paths": [w.path for w in single.weights],
            "diff": [float(np.max(np.abs(a - b))) for a, b in zip(after_one, after_two)],
            "change": [float(np.max(np.abs(a - b))) for a, b in zip(after_one, init)],
            "logs_one": logs_one,
            "logs_two": logs_two,
        }, f)


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    {"mirrored": mirrored}[mode](*args)
