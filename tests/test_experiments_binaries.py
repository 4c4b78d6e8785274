"""Each binary end to end at toy size, in a subprocess."""

import csv
import json
import os

import keras
import numpy as np

from tests import experiment_runs as runs


def test_train_teacher_writes_keras_and_checkpoint():
    path, result = runs.teacher()
    assert os.path.exists(path)
    model = keras.saving.load_model(path, compile=False)
    assert model.output.shape[-1] == 10
    assert "test accuracy" in result.stdout
    state = json.load(open(os.path.join(runs.workdir(), "teacher_ckpt", "state.json")))
    assert state["step"] == 2


def test_distill_writes_student_logs_and_checkpoint():
    paths, result = runs.student()
    student = keras.saving.load_model(paths["output"], compile=False)
    assert student.count_params() < 10_000
    with open(os.path.join(paths["log_dir"], "training.csv")) as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["0", "1"]
    for key in ("knowledge_loss", "prior_loss", "student_loss", "val_accuracy"):
        assert np.isfinite(float(rows[-1][key]))
    state = json.load(open(os.path.join(paths["checkpoint_dir"], "state.json")))
    assert (state["step"], state["epoch"], state["batch"]) == (32, 2, 0)


def test_distill_help_lists_registry_methods():
    result = runs.run("distill", "--helpfull")  # absl exits 1 after printing help.
    from kr_keras import distillers
    for name in distillers.names():
        assert name in result.stdout
    for flag in ("--mu", "--preset", "--strategy", "--checkpoint_dir", "--log_dir"):
        assert flag in result.stdout


def test_evaluate_reports_accuracy_params_flops_speed():
    paths, _ = runs.student()
    out = os.path.join(runs.workdir(), "eval.json")
    result = runs.run("evaluate", f"--model={paths['output']}", "--take=64", f"--output={out}")
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.load(open(out))
    assert 0.0 <= report["accuracy"] <= 1.0 and report["examples"] == 64
    assert report["params"] > 0 and report["flops"] > 0 and report["images_per_second"] > 0
    assert "top5_accuracy" not in report and "top5_error" not in report  # 10 classes
    assert abs(report["top1_error"] - (1.0 - report["accuracy"])) < 1e-9


def test_tune_writes_a_usable_flagfile():
    t, _ = runs.teacher()
    flagfile = os.path.join(runs.workdir(), "best.flags")
    result = runs.run("tune", f"--teacher={t}", "--student_depth=8", "--student_width=0.25",
                      "--group_size=1", "--algorithm=hyperband",
                      "--max_epochs=1", "--steps_per_epoch=2", *runs.TOY,
                      f"--directory={runs.workdir()}/tuning", f"--flagfile_out={flagfile}")
    assert result.returncode == 0, result.stderr[-3000:]
    lines = open(flagfile).read().split()
    assert {l.split("=")[0] for l in lines} == {
        "--method", "--mu", "--gamma", "--boost", "--target_inactive", "--student_lr"}
    from absl import flags
    values = flags.FlagValues()
    flags.DEFINE_float("mu", None, "", flag_values=values)
    flags.DEFINE_float("gamma", None, "", flag_values=values)
    flags.DEFINE_float("boost", None, "", flag_values=values)
    flags.DEFINE_float("target_inactive", None, "", flag_values=values)
    flags.DEFINE_float("student_lr", None, "", flag_values=values)
    flags.DEFINE_string("method", None, "", flag_values=values)
    values(["prog", f"--flagfile={flagfile}"])
    assert values.mu > 0


def test_reproduce_writes_table_and_skips_done_runs():
    results = os.path.join(runs.workdir(), "results")
    args = ["--table=fashion_mnist", "--seeds=1", "--budget=small", "--methods=teacher,ce,kr",
            "--train_take=128", "--eval_take=32", "--teacher_epochs=1", "--student_epochs=1",
            "--steps_per_epoch=1", "--batch_size=32", "--teacher_depth=8", "--student_width=0.25", "--group_size=1",
            f"--results_dir={results}", f"--models_dir={runs.workdir()}/repro_models"]
    result = runs.run("reproduce", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    md = open(os.path.join(results, "fashion_mnist.md")).read()
    assert "| Teacher |" in md and "`kr`" in md and "small budget" in md
    with open(os.path.join(results, "fashion_mnist.runs.csv")) as f:
        done = list(csv.DictReader(f))
    assert [r["method"] for r in done] == ["teacher", "ce", "kr"]
    with open(os.path.join(results, "fashion_mnist.csv")) as f:
        summary = {r["method"]: r for r in csv.DictReader(f)}
    assert summary["kr"]["seeds"] == "1" and summary["kr"]["status"] == "ok"
    again = runs.run("reproduce", *args)  # Resume: nothing left to run.
    assert again.returncode == 0
    assert "seed 0:" not in again.stdout


def test_figures_writes_three_pngs():
    out = os.path.join(runs.workdir(), "figures")
    result = runs.run("figures", "--steps=1", "--take=64", f"--out_dir={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("fig2_penalties.png", "fig4_kernels.png", "fig5_convergence.png"):
        with open(os.path.join(out, name), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
