"""The demo's teacher cache and its results file."""

import os

import keras
import numpy as np
import tensorflow as tf

from kr_keras import demo


def _tiny_data():
    x = np.random.RandomState(0).rand(8, 28, 28, 1).astype("float32")
    y = np.arange(8) % 10
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(8)


def _tiny_resnet(depth, num_classes, input_shape, **kwargs):
    """Stands in for `cifar_resnet` (the cache is under test, not the model)."""
    return keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(),
                             keras.layers.Dense(num_classes + depth)])


def test_teacher_cache_is_keyed_on_the_teacher_config(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "cifar_resnet", _tiny_resnet)
    config = demo.DemoConfig(teacher_depth=0, teacher_epochs=1, batch_size=8, train_examples=8,
                             teacher_dir=str(tmp_path), verbose=0)
    args = (_tiny_data(), 1, (28, 28, 1), 10)
    quiet = dict(log=lambda _: None)
    _, seconds, cached = demo.load_or_train_teacher(config, *args, **quiet)
    assert not cached and seconds > 0
    _, again, cached = demo.load_or_train_teacher(config, *args, **quiet)
    assert cached and again == seconds  # The time it took to train, not 0.
    # A changed teacher flag trains a new teacher; the old one stays cached.
    longer = demo.DemoConfig(**{**config.__dict__, "teacher_epochs": 2})
    _, _, cached = demo.load_or_train_teacher(longer, *args, **quiet)
    assert not cached
    deeper = demo.DemoConfig(**{**config.__dict__, "teacher_depth": 1})
    teacher, _, cached = demo.load_or_train_teacher(deeper, *args, **quiet)
    assert not cached and teacher.outputs[0].shape[-1] == 11  # Built at the new depth.
    paths = {demo.teacher_cache_path(c) for c in (config, longer, deeper)}
    assert len(paths) == 3 and all(os.path.exists(p) for p in paths)
    # Fields that do not touch the teacher share it.
    other_student = demo.DemoConfig(**{**config.__dict__, "student_epochs": 9, "mu": 2.0})
    assert demo.teacher_cache_path(other_student) == demo.teacher_cache_path(config)


def test_report_names_its_command_and_config(tmp_path):
    rows = [{"model": "Teacher ResNet-8", "params": 1234, "accuracy": 0.5, "seconds": 7.0,
             "cached": True},
            {"model": "Student alone ResNet-8x0.25", "params": 99, "accuracy": 0.25, "seconds": 3.0}]
    config = demo.DemoConfig(student_epochs=1)
    path = demo.write_report(rows, config, str(tmp_path / "demo.md"),
                             "python -m experiments.demo --student_epochs=1", 90.0)
    text = open(path).read()
    assert "`python -m experiments.demo --student_epochs=1` in 1.5 min" in text
    assert '"student_epochs": 1' in text
    assert "| Teacher ResNet-8 | 1,234 | 0.5000 | 7 (cached) |" in text
    assert demo.DemoConfig().output == "results/demo.md"  # What `make demo` writes.
