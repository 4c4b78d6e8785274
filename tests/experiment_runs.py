"""Toy-size binary runs shared by the experiment tests (run once per session)."""

import functools
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
TOY = ["--batch_size=32", "--train_take=256", "--eval_take=64"]
DISTILL = ["--method=kr", "--student_depth=8", "--student_width=0.25", "--group_size=1",
           "--epochs=2", "--steps_per_epoch=16", "--save_every_steps=4", "--deterministic",
           *TOY]


def run(binary, *args, timeout=240):
    """Runs `python -m experiments.<binary> args`; returns the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", f"experiments.{binary}", *args], cwd=ROOT,
                          env=ENV, capture_output=True, text=True, timeout=timeout)


CHAIN = """
import importlib, json, sys
from absl import flags
import tensorflow_datasets as tfds
with tfds.testing.mock_data(num_examples=int(sys.argv[1])):
    for binary, *args in json.loads(sys.argv[2]):
        before = set(flags.FLAGS)
        main = importlib.import_module("experiments." + binary).main  # Defines its flags.
        main(flags.FLAGS([binary, *args]))  # A user error exits 1 (SystemExit).
        for name in set(flags.FLAGS) - before:  # The next binary defines its own.
            delattr(flags.FLAGS, name)
"""


def run_chain(commands, tfds_data_dir, num_examples=8, timeout=400):
    """Runs several binaries one after the other in one process (one
    TensorFlow import), with TFDS mocked (`tfds.testing.mock_data`, random
    examples, `num_examples` per split) and `TFDS_DATA_DIR=tfds_data_dir`.

    Args:
        commands: `[[binary, *args], ...]`, each like `python -m experiments.<binary> args`.
    """
    return subprocess.run([sys.executable, "-c", CHAIN, str(num_examples), json.dumps(commands)],
                          cwd=ROOT, env={**ENV, "TFDS_DATA_DIR": tfds_data_dir},
                          capture_output=True, text=True, timeout=timeout)


def popen(binary, *args):
    return subprocess.Popen([sys.executable, "-m", f"experiments.{binary}", *args], cwd=ROOT,
                            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@functools.lru_cache(maxsize=None)
def workdir():
    return tempfile.mkdtemp(prefix="kr_experiments_")


@functools.lru_cache(maxsize=None)
def teacher():
    """A tiny trained teacher (.keras) and the run's process result."""
    path = os.path.join(workdir(), "teacher.keras")
    result = run("train_teacher", "--depth=8", "--width_multiplier=0.25", "--epochs=1",
                 "--steps_per_epoch=2", *TOY, f"--output={path}",
                 f"--checkpoint_dir={workdir()}/teacher_ckpt")
    assert result.returncode == 0, result.stderr[-3000:]
    return path, result


@functools.lru_cache(maxsize=None)
def student():
    """An uninterrupted deterministic KR distillation; returns (paths dict, result)."""
    t, _ = teacher()
    paths = {"output": os.path.join(workdir(), "student.keras"),
             "checkpoint_dir": os.path.join(workdir(), "ckpt_a"),
             "log_dir": os.path.join(workdir(), "logs_a")}
    result = run("distill", f"--teacher={t}", *DISTILL,
                 *[f"--{k}={v}" for k, v in paths.items()])
    assert result.returncode == 0, result.stderr[-3000:]
    return paths, result


def last_line(stderr):
    lines = [l for l in stderr.strip().splitlines() if l.strip()]
    return lines[-1] if lines else ""
