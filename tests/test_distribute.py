"""Distillers under tf.distribute strategies; `kr_keras.distribute.get_strategy`.

The strategy runs happen in fresh interpreters (`tests/distribute_script.py`)
because the 2 logical CPU devices and `TF_CONFIG` must be set before
TensorFlow initialises its devices, which this test process has already done.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

import kr_keras

SCRIPT = os.path.join(os.path.dirname(__file__), "distribute_script.py")
sys.path.insert(0, os.path.dirname(__file__))
from distribute_script import MIRRORED_METHODS  # noqa: E402
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_script(*args, env=None, timeout=240):
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    env.pop("TF_CONFIG", None) if "TF_CONFIG" not in (env or {}) else None
    return subprocess.Popen([sys.executable, SCRIPT, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def finish(process, timeout):
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f"{SCRIPT} timed out after {timeout}s:\n{output[-4000:]}")
    assert process.returncode == 0, output[-4000:]


def finish_all(processes, timeout):
    """`finish`es every process; kills those left running if one fails."""
    try:
        for process in processes:
            finish(process, timeout)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()


@pytest.fixture(scope="module")
def mirrored_results(tmp_path_factory):
    # Two interpreters, each on every other method, side by side: tracing
    # 2 x 24 distillers is mostly single-threaded Python.
    folder = tmp_path_factory.mktemp("mirrored")
    shards = 2
    outs = [folder / f"results{i}.json" for i in range(shards)]
    finish_all([run_script("mirrored", str(out), f"{i}/{shards}") for i, out in enumerate(outs)],
               timeout=600)
    results = {}
    for out in outs:
        with open(out) as f:
            results.update(json.load(f))
    return results


def test_every_kind_of_step_ran(mirrored_results):
    assert sorted(m for m in mirrored_results if ":" not in m) == sorted(MIRRORED_METHODS)
    assert set(MIRRORED_METHODS) <= set(kr_keras.distillers.names())


def is_srp_threshold(path):
    return path.endswith("/tau")


@pytest.mark.parametrize("method", MIRRORED_METHODS
                         + [f"keras:{loss}" for loss in ("kd", "at", "nst", "fitnet")])
def test_mirrored_first_step_equals_one_device(mirrored_results, method):
    """A global batch of 8 on 2 replicas updates every weight as on 1 device.

    The batch is two identical halves of 4, so each replica's batch statistics
    equal the whole batch's and batch normalisation (student, KR
    aggregators) is replica-invariant; the test then checks the loss
    reduction: summed per-replica gradients of losses scaled by 1/replicas
    must equal the one-device gradient (a missing or doubled scale shows as
    a factor of 2). SRP thresholds are checked in the test below. The
    "keras:<loss>" cases run kr_keras' losses in `keras.distillation.Distiller`
    (issue 16 item 6).
    """
    result = mirrored_results[method]
    assert "error" not in result, result.get("error")
    assert result["replicas"] == 2
    checked = [(p, d, c) for p, d, c in zip(result["paths"], result["diff"], result["change"])
               if not is_srp_threshold(p)]
    assert max(c for _, _, c in checked) > 1e-3  # the step moved the weights
    mismatched = [(p, d) for p, d, _ in checked if d > 1e-5]
    assert not mismatched, mismatched
    for key, value in result["logs_one"].items():
        if method.startswith("keras:") and key not in ("loss", "accuracy"):
            continue  # Keras' Distiller logs its terms per replica
        assert result["logs_two"][key] == pytest.approx(value, rel=1e-4, abs=1e-6), key


def test_mirrored_srp_threshold_update_equals_one_device(mirrored_results):
    result = mirrored_results["kr"]
    taus = [(p, d) for p, d in zip(result["paths"], result["diff"]) if is_srp_threshold(p)]
    assert taus
    assert max(d for _, d in taus) < 1e-5, taus


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_multi_worker_two_processes_end_with_identical_students(tmp_path):
    cluster = {"worker": [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]}
    outs = [tmp_path / f"worker{i}.npz" for i in range(2)]
    processes = []
    for i, out in enumerate(outs):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
        processes.append(run_script("worker", str(out), "kr", env={"TF_CONFIG": tf_config}))
    finish_all(processes, timeout=120)
    first, second = (np.load(out) for out in outs)
    assert int(first["replicas"]) == 2
    assert first["loss"] == pytest.approx(second["loss"]) and np.all(np.isfinite(first["loss"]))
    trainable = [k for k in first.files if k.startswith("trainable/")]
    assert len(trainable) >= 4 and sorted(trainable) == sorted(k for k in second.files if k.startswith("trainable/"))
    for key in trainable:
        np.testing.assert_allclose(first[key], second[key], atol=1e-6, err_msg=key)
    # Keras 3 keeps BatchNormalization moving statistics per replica (variable
    # aggregation "none"): each worker's track its own data shard, so they are
    # only required to be finite here (docs/scaling.md).
    for key in first.files:
        if key.startswith("moving/"):
            assert np.all(np.isfinite(first[key])) and np.all(np.isfinite(second[key]))


def test_one_mirrored_strategy_per_process_trains_distillers_one_after_another(tmp_path):
    """A second MirroredStrategy in a process breaks a two-optimizer step
    (tensorflow#62790); `get_strategy` hands out the same one."""
    out = tmp_path / "losses.json"
    finish(run_script("sequential", str(out)), timeout=240)
    losses = json.loads(out.read_text())
    warned = losses.pop("warnings")
    assert all(np.isfinite(v).all() for v in losses.values()) and set(losses) == {"ce", "kdgan"}
    assert any("second MirroredStrategy" in w and "get_strategy('mirrored')" in w for w in warned)
    assert (kr_keras.distribute.get_strategy("mirrored")
            is kr_keras.distribute.get_strategy("mirrored"))


def test_get_strategy_default_and_errors(monkeypatch):
    import tensorflow as tf

    assert kr_keras.distribute.get_strategy() is tf.distribute.get_strategy()
    assert kr_keras.distribute.STRATEGIES == ("default", "mirrored", "multi_worker")
    with pytest.raises(ValueError, match="Received: name='tpu'"):
        kr_keras.distribute.get_strategy("tpu")
    with pytest.raises(ValueError, match="Received: communication='mpi'"):
        kr_keras.distribute.get_strategy("multi_worker", communication="mpi")
    monkeypatch.setenv("TF_CONFIG", '{"task": {"index": 1}}')
    with pytest.raises(ValueError, match="TF_CONFIG must be JSON"):
        kr_keras.distribute.get_strategy("multi_worker")
    assert kr_keras.distribute.worker_index() == 1
    monkeypatch.delenv("TF_CONFIG")
    assert kr_keras.distribute.worker_index() == 0
