"""The demo: its teacher cache and shipped teacher, its students, its table."""

import dataclasses
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from experiments.lib import demo
from kr_keras.losses import kd as kd_losses
from kr_keras.models import cifar_resnet
from kr_keras.models import weights_fingerprint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _tiny_data():
    x = np.random.RandomState(0).rand(8, 28, 28, 1).astype("float32")
    y = np.arange(8) % 10
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(8)


def _tiny_resnet(depth, num_classes, input_shape, **kwargs):
    """Stands in for `cifar_resnet` (the cache is under test, not the model)."""
    return keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(),
                             keras.layers.Dense(num_classes + depth)])


def _replace(config, **changes):
    return dataclasses.replace(config, **changes)


def test_teacher_cache_key_changes_with_every_teacher_setting():
    base = demo.DemoConfig()
    changed = {"dataset": "cifar10", "teacher_depth": 32, "teacher_epochs": 4,
               "teacher_batch_size": 64, "teacher_train_examples": 1000, "teacher_lr": 0.1,
               "teacher_seed": 1}
    assert set(changed) == set(demo.TEACHER_FIELDS)
    paths = {demo.teacher_cache_path(_replace(base, **{k: v})) for k, v in changed.items()}
    assert len(paths) == len(changed) and demo.teacher_cache_path(base) not in paths
    # The students' settings (the demo's budget, the multi-seed runs' seeds) share it.
    for field, value in {"seed": 3, "train_examples": 2000, "student_epochs": 9, "mu": 2.0,
                         "batch_size": 64, "methods": "kr", "test_examples": 100}.items():
        assert demo.teacher_cache_path(_replace(base, **{field: value})) == (
            demo.teacher_cache_path(base)), field


def test_missing_or_altered_teacher_is_retrained(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "cifar_resnet", _tiny_resnet)
    config = demo.DemoConfig(teacher_depth=0, teacher_epochs=1, teacher_batch_size=8,
                             teacher_train_examples=8, teacher_dir=str(tmp_path), verbose=0)
    args = dict(train_ds=_tiny_data(), test_ds=_tiny_data(), steps_per_epoch=1,
                log=lambda _: None)
    teacher, record, cached = demo.load_or_train_teacher(config, command="cmd", **args)
    path = demo.teacher_cache_path(config)
    assert not cached and os.path.exists(path) and record["seconds"] > 0
    assert record["command"] == "cmd" and 0 <= record["test_accuracy"] <= 1
    assert record["fingerprint"] == weights_fingerprint(teacher)
    assert demo.read_teacher_record(config) == record
    again, record_again, cached = demo.load_or_train_teacher(config, **args)
    assert cached and record_again == record  # Its training time, not 0.
    assert weights_fingerprint(again) == record["fingerprint"]
    # A missing file is retrained.
    os.remove(path)
    _, _, cached = demo.load_or_train_teacher(config, **args)
    assert not cached and os.path.exists(path)
    # A file that does not match its recorded fingerprint is retrained.
    altered = keras.models.load_model(path)
    altered.set_weights([w + 1 for w in altered.get_weights()])
    altered.save(path)
    _, _, cached = demo.load_or_train_teacher(config, **args)
    assert not cached
    # A changed teacher setting trains a new teacher, at the new depth.
    deeper = _replace(config, teacher_depth=1)
    teacher, _, cached = demo.load_or_train_teacher(deeper, **args)
    assert not cached and teacher.outputs[0].shape[-1] == 11
    assert demo.teacher_cache_path(deeper) != path


def test_shipped_teacher_matches_its_record():
    config = demo.DemoConfig(teacher_dir=os.path.join(ROOT, "saved_models"))
    path = demo.teacher_cache_path(config)
    if not os.path.exists(path):
        pytest.skip(f"no shipped teacher at {path}")
    record = demo.read_teacher_record(config)
    assert record is not None, f"{path}.json is missing"
    assert record["config"] == demo.teacher_fields(config)
    assert os.path.getsize(path) < 5e6  # A few MB at most.
    teacher = keras.models.load_model(path)
    assert weights_fingerprint(teacher) == record["fingerprint"]
    assert record["test_accuracy"] > 0.85
    # results/demo.md cites the same file and fingerprint.
    with open(os.path.join(ROOT, "results", "demo.md")) as f:
        text = f.read()
    assert os.path.basename(path) in text and record["fingerprint"] in text


def _seeds_csv(path, key, accuracies):
    """Writes a fake runs CSV: `accuracies[seed][method]`."""
    lines = [",".join(demo._CSV_FIELDS)]
    for seed, per_method in accuracies.items():
        for method, accuracy in per_method.items():
            lines.append(f"{key},fp,{seed},{method},{accuracy},1.0")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_table_quotes_each_difference_over_seeds_with_its_verdict(tmp_path):
    config = demo.DemoConfig(seeds_file=str(tmp_path / "seeds.csv"))
    key = demo.setting_key(config, "fp")
    # KD - CE over seeds: +1.0, +1.5, +0.5, +1.0, +1.0 (std 0.354, interval above 0);
    # KR - CE: 0, +1, -1, +0.5, -0.5 (interval across 0); KR+KD only one seed.
    _seeds_csv(tmp_path / "seeds.csv", key, {
        0: {"ce": 0.80, "kd": 0.81, "kr": 0.80, "kr+kd": 0.82},
        1: {"ce": 0.80, "kd": 0.815, "kr": 0.81},
        2: {"ce": 0.80, "kd": 0.805, "kr": 0.79},
        3: {"ce": 0.80, "kd": 0.81, "kr": 0.805},
        4: {"ce": 0.80, "kd": 0.81, "kr": 0.795},
    })
    spread = demo.seed_spread(demo.read_seed_runs(config.seeds_file), key)
    assert spread[("kd", "ce")]["std"] == pytest.approx(0.125 ** 0.5)
    assert spread[("kr", "ce")]["std"] == pytest.approx(0.625 ** 0.5)
    assert ("kr+kd", "kd") not in spread
    diffs = {("kd", "ce"): 1.2, ("kr", "ce"): -1.5, ("kr+kd", "kd"): 3.0}
    lines, verdicts = demo.compare_with_seed_spread(diffs, config, "fp")
    assert verdicts == {("kd", "ce"): "KD beats CE", ("kr", "ce"): "no difference shown",
                        ("kr+kd", "kd"): None}
    text = "\n".join(lines)
    assert "KD − CE = +1.20 points; over 5 seeds +1.00 (std 0.35, 95% CI [+0.56, +1.44])" in text
    assert "KR − CE = -1.50 points; over 5 seeds +0.00 (std 0.79" in text
    assert str(tmp_path / "seeds.md") in text  # Cites the file.
    # Another teacher (or config): the runs do not count.
    lines, verdicts = demo.compare_with_seed_spread(diffs, config, "other")
    assert set(verdicts.values()) == {None} and "holds no runs of this setting" in lines[0]
    other = _replace(config, train_examples=123)
    _, verdicts = demo.compare_with_seed_spread(diffs, other, "fp")
    assert set(verdicts.values()) == {None}
    # Only one seed of this setting so far.
    one_seed = tmp_path / "one.csv"
    _seeds_csv(one_seed, key, {0: {"ce": 0.8, "kd": 0.81}})
    lines, verdicts = demo.compare_with_seed_spread(
        diffs, _replace(config, seeds_file=str(one_seed)), "fp")
    assert set(verdicts.values()) == {None} and "fewer than 2 seeds" in lines[0]
    # No file.
    missing = _replace(config, seeds_file=str(tmp_path / "none.csv"))
    lines, _ = demo.compare_with_seed_spread(diffs, missing, "fp")
    assert "is missing" in lines[0] and "--seeds=5" in lines[0]
    # The report carries the verdicts and the teacher's record.
    rows = [{"model": "Teacher ResNet-8", "params": 1234, "accuracy": 0.9, "seconds": 7.0,
             "cached": True, "fingerprint": "fp"}]
    for method, accuracy in {"ce": 0.80, "kd": 0.812, "kr": 0.785, "kr+kd": 0.842}.items():
        rows.append({"method": method, "model": method, "params": 99, "accuracy": accuracy,
                     "seconds": 3.0})
    record = {"fingerprint": "fp", "command": "python -m experiments.demo --teacher_only",
              "seconds": 600.0, "test_accuracy": 0.9, "file_bytes": 1.5e6, "config": {}}
    path = demo.write_report(rows, config, str(tmp_path / "demo.md"),
                             "python -m experiments.demo --student_epochs=1", 90.0,
                             teacher_record=record, load_average=2.5)
    text = open(path).read()
    assert "`python -m experiments.demo --student_epochs=1` in 1.5 min" in text
    assert "load average 2.50" in text and '"student_epochs": 3' in text
    assert "| Teacher ResNet-8 | 1,234 | 0.9000 | 7 (shipped, not retrained) |" in text
    assert "(std 0.35, 95% CI [+0.56, +1.44]): **KD beats CE**" in text
    assert "**no difference shown**" in text
    assert "KR+KD − KD = +3.00 points: no other seeds" in text
    assert "`python -m experiments.demo --teacher_only`" in text and "`fp`" in text
    # Re-rendered from its .json once the seeds file covers KR+KD - KD too.
    _seeds_csv(tmp_path / "seeds.csv", key, {s: {"ce": 0.8, "kd": 0.81, "kr": 0.8,
                                                 "kr+kd": 0.82 + 0.001 * s} for s in range(3)})
    assert demo.rewrite_report(path) == path
    text = open(path).read()
    assert "KR+KD − KD = +3.00 points; over 3 seeds +1.10 (std 0.10" in text
    assert "**none (3 of 5 seeds)**" in text
    assert "`python -m experiments.demo --student_epochs=1` in 1.5 min" in text
    assert demo.DemoConfig().output == "results/demo.md"  # What `make demo` writes.


class _Stop(Exception):
    pass


def test_run_seeds_resumes_and_writes_after_every_run(tmp_path, monkeypatch):
    config = demo.DemoConfig(seeds_file=str(tmp_path / "seeds.csv"), train_examples=256,
                             test_examples=256)
    record = {"fingerprint": "fp"}
    monkeypatch.setattr(demo, "load_or_train_teacher", lambda *a, **k: (None, record, True))
    calls, stopped = [], []

    def fake_train(method, teacher, config, seed, *args):
        calls.append((seed, method))
        if len(calls) == 6 and not stopped:
            stopped.append(True)
            raise _Stop  # Stopped in the middle of seed 1.
        return {"accuracy": 0.8 + 0.01 * seed + {"ce": 0, "kd": .01, "kr": .0, "kr+kd": .02}[
            method], "seconds": 1.0}

    monkeypatch.setattr(demo, "train_student", fake_train)
    with pytest.raises(_Stop):
        demo.run_seeds(config, range(3), log=lambda _: None)
    assert len(demo.read_seed_runs(config.seeds_file)) == 5  # Written after every run.
    calls.clear()
    md = demo.run_seeds(config, range(3), command="cmd", log=lambda _: None)
    assert calls[0] == (1, "kd") and len(calls) == 7  # Only the runs not done yet.
    runs = demo.read_seed_runs(config.seeds_file)
    assert len(runs) == 12
    text = open(md).read()
    assert "| KD − CE | 3 | +1.00, +1.00, +1.00 | +1.00 | 0.00 |" in text
    assert "| 2 | 82.00 | 83.00 | 82.00 | 84.00 |" in text


def test_kr_kd_uses_kd_weights():
    keras.utils.set_random_seed(0)
    teacher = cifar_resnet(8, width_multiplier=0.25, num_classes=10, input_shape=(28, 28, 1))
    student = cifar_resnet(8, width_multiplier=0.25, num_classes=10, input_shape=(28, 28, 1))
    config = demo.DemoConfig()
    kd = demo.build_student_distiller("kd", teacher, student, config)
    kr_kd = demo.build_student_distiller("kr+kd", teacher, student, config)
    assert kd.student_loss_weight == kd_losses.DEFAULTS["student_loss_weight"]
    assert list(kd.distillation_loss_weights) == [kd_losses.DEFAULTS["distillation_loss_weight"]]
    assert kr_kd.student_loss_weight == kd.student_loss_weight
    assert list(kr_kd.distillation_loss_weights) == [config.mu, *kd.distillation_loss_weights]
    assert kr_kd.posterior[0].temperature == kd.distillation_losses[0].temperature
    assert kr_kd.mu == config.mu and kr_kd.kr.gamma == config.gamma
