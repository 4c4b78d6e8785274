"""Tests of `experiments.lib.study`: the run cache and the report."""

import csv
import os

from experiments.lib import study


def _add(runs, cell, variant, seed, accuracy, stage="grid"):
    runs.add({"stage": stage, "cell": cell.key, "variant": variant, "method": variant,
              "seed": seed, "split": "test", "accuracy": accuracy, "seconds": 1.0,
              "hparams": "{}"})


def test_report_marks_gains_beyond_the_pooled_seed_std(tmp_path):
    runs = study.Runs(str(tmp_path))
    cell = study.REFERENCE
    for seed, (ce, kr, kd, kr_kd) in enumerate([(0.80, 0.83, 0.84, 0.84),
                                                 (0.81, 0.84, 0.85, 0.83),
                                                 (0.79, 0.82, 0.86, 0.85)]):
        for variant, value in (("ce", ce), ("kr", kr), ("kd", kd), ("kr+kd", kr_kd)):
            _add(runs, cell, variant, seed, value)
    # A rerun reads the cache back.
    runs = study.Runs(str(tmp_path))
    assert runs.find("grid", cell, study.Variant("kr", "kr"), 2, "test")["accuracy"] == "0.82"
    text = study.report(runs, str(tmp_path), str(tmp_path / "gain.png"), "cmd")
    row = next(line for line in text.splitlines() if line.startswith(f"| {cell.key}"))
    assert "**+3.00**" in row          # KR - CE = 3 points, pooled std 1
    assert "| -1.00 |" in row          # KR+KD - KD = -1, not bold
    with open(tmp_path / "kr_study.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["variant"] for r in rows} == {"ce", "kd", "kr", "kr+kd"}
    assert os.path.getsize(tmp_path / "gain.png") > 0


def test_variant_changes_keep_the_base_settings():
    kr = study.Variant("kr", "kr", 0.05, 0.1, (("mu", 0.3),))
    faster = kr.with_("fast", knowledge_lr=0.5, boost=1.0)
    assert (faster.student_lr, faster.knowledge_lr) == (0.05, 0.5)
    assert dict(faster.hparams) == {"mu": 0.3, "boost": 1.0}
    assert [v.label for v, _ in study.ablations(kr)][0] == "KR, pre-ReLU taps"


def test_report_lists_teachers_apart_from_the_grid(tmp_path):
    runs = study.Runs(str(tmp_path))
    _add(runs, study.REFERENCE, "ce", 0, 0.8)
    runs.add({"stage": "teacher", "cell": "teacher_clean", "variant": "teacher",
              "method": "teacher", "seed": 1234, "split": "test", "accuracy": "0.9012",
              "seconds": "", "hparams": "{}"})
    text = study.report(runs, str(tmp_path), None, "cmd")
    assert "Teachers' test accuracy" in text and "clean 90.12" in text
    assert "teacher" not in study.summarize(runs, "grid")[study.REFERENCE.key]


def test_ablations_run_by_label_and_unknown_labels_are_named(tmp_path, monkeypatch):
    runs = study.Runs(str(tmp_path))
    ran = []
    monkeypatch.setattr(study, "ensure", lambda runs, stage, cell, variant, seed, *a, **k:
                        ran.append((cell.key, variant.label, seed)))
    chosen = {"kr": study.Variant("kr", "kr")}
    study.run_ablations(runs, {}, chosen, 2, labels=["KR, simultaneous steps"])
    assert ran == [(c.key, "KR, simultaneous steps", s) for c in study.CELLS[:2] for s in (0, 1)]
    try:
        study.run_ablations(runs, {}, chosen, 1, labels=["KR, typo"])
    except ValueError as error:
        assert "KR, typo" in str(error) and "KR, simultaneous steps" in str(error)
    else:
        raise AssertionError("an unknown label must be refused")


def test_ablation_rows_compare_with_the_method_they_vary(tmp_path):
    runs = study.Runs(str(tmp_path))
    cell = study.REFERENCE
    for variant, value in (("ce", 0.80), ("kr", 0.81), ("kr+kd", 0.85)):
        _add(runs, cell, variant, 0, value)
    runs.add({"stage": "ablation", "cell": cell.key, "variant": "KR+KD, simultaneous steps",
              "method": "kr+kd", "seed": 0, "split": "test", "accuracy": 0.84, "seconds": 1.0,
              "hparams": "{}"})
    chosen = {m: study.Variant(m, m) for m in study.METHODS}
    text = study.report(runs, str(tmp_path), None, "cmd", chosen)
    row = next(line for line in text.splitlines() if "KR+KD, simultaneous steps" in line)
    assert row.endswith("| +4.00 | -1.00 |"), row  # vs CE, vs KR+KD (not KR: +3)
    assert "as above, with KD's posterior term" in row


def test_an_older_cache_is_migrated_and_rows_are_read_per_precise_bn_setting(tmp_path):
    old = ("stage,cell,variant,method,seed,split,accuracy,seconds,hparams\n"
           f"grid,{study.REFERENCE.key},ce,ce,0,test,0.8,1.0,{{}}\n")
    (tmp_path / "kr_study.runs.csv").write_text(old)
    runs = study.Runs(str(tmp_path))                      # default: precise BN on
    assert runs.precise_bn_samples == study.PRECISE_BN_SAMPLES and runs.rows == []
    _add(runs, study.REFERENCE, "ce", 0, 0.85)
    with open(tmp_path / "kr_study.runs.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["accuracy"], r["precise_bn"]) for r in rows] == [("0.8", "0"), ("0.85", "2048")]
    off = study.Runs(str(tmp_path), precise_bn_samples=0)
    assert off.find("grid", study.REFERENCE, study.Variant("ce", "ce"), 0, "test")["accuracy"] == "0.8"
    on = study.Runs(str(tmp_path))
    assert on.find("grid", study.REFERENCE, study.Variant("ce", "ce"), 0, "test")["accuracy"] == "0.85"
    assert "re-estimated on 2048" in study.report(on, str(tmp_path), None, "cmd")
    assert "no precise BN" in study.report(off, str(tmp_path), None, "cmd")
    try:
        study.Runs(str(tmp_path), precise_bn_samples=-1)
    except ValueError as error:
        assert "Received: precise_bn_samples=-1" in str(error)
    else:
        raise AssertionError("a negative setting must be refused")


def test_a_run_reestimates_the_students_statistics_before_evaluating(monkeypatch):
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(144, 8, 8, 1)).astype(np.float32)
    y = (np.arange(144) % 10).astype(np.int32)
    monkeypatch.setattr(study, "arrays", lambda distortion, split: (x, y))
    monkeypatch.setattr(study, "VAL_SIZE", 16)
    calls = []
    original = study.recompute_batch_norm_statistics

    def recording(model, dataset, num_samples):
        calls.append((model.name, num_samples))
        used = original(model, dataset, num_samples)
        # Every training image when there are fewer than requested.
        assert used == min(num_samples, 128)
        return used

    monkeypatch.setattr(study, "recompute_batch_norm_statistics", recording)
    teacher = study.cifar_resnet(8, width_multiplier=0.25, input_shape=(8, 8, 1))
    cell = study.Cell(128, 1, 0.25)
    for method, samples in (("ce", 100), ("kd", 2048)):
        accuracy, _ = study.run(cell, study.Variant(method, method), 0, "val", teacher, samples)
        assert 0.0 <= accuracy <= 1.0
    assert [n for _, n in calls] == [100, 2048]
    calls.clear()
    study.run(cell, study.Variant("ce", "ce"), 0, "val", teacher, 0)
    assert calls == []
    keras.backend.clear_session()
