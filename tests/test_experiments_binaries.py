"""Each binary end to end at toy size, in a subprocess."""

import csv
import json
import re
import os

import keras
import numpy as np
import pytest

import kr_keras  # noqa: F401 (registers the custom layers load_model reads)
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
    # absl wraps the enum's choices across lines.
    choices = re.search(r"--method: <([^>]*)>", result.stdout).group(1)
    assert re.sub(r"\s+", "", choices).split("|") == distillers.names()
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


def test_reproduce_trains_over_committed_runs_and_resumes_with_flag():
    results = os.path.join(runs.workdir(), "results")
    # A clone's committed results mark every run done: a plain run still trains.
    committed = "table,row,method,seed,teacher,params,last_accuracy,top5_accuracy,seconds,status\n"
    for row, method in (("Teacher", "teacher"), ("Student (original)", "ce"), ("Proposed", "kr")):
        committed += f"fashion_mnist,{row},{method},0,abc,1,0.5,,1.0,ok\n"
    os.makedirs(results)
    with open(os.path.join(results, "fashion_mnist.runs.csv"), "w") as f:
        f.write(committed)
    args = ["--table=fashion_mnist", "--seeds=2", "--budget=small", "--methods=teacher,ce,kr",
            "--train_take=128", "--eval_take=32", "--teacher_epochs=1", "--student_epochs=1",
            "--steps_per_epoch=1", "--batch_size=32", "--teacher_depth=8", "--student_width=0.25", "--group_size=1",
            f"--results_dir={results}", f"--models_dir={runs.workdir()}/repro_models"]
    result = runs.run("reproduce", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Teacher seed 0:" in result.stdout and "Proposed seed 1:" in result.stdout
    md = open(os.path.join(results, "fashion_mnist.md")).read()
    assert "| Teacher |" in md and "`kr`" in md and "small budget" in md
    # --methods picks the rows to run; the report keeps the table's other rows.
    assert "| FitNet | `fitnet` |" in md and "| not run |" in md
    with open(os.path.join(results, "fashion_mnist.runs.csv")) as f:
        done = list(csv.DictReader(f))
    # One teacher, trained once; every student row records its fingerprint.
    assert [(r["method"], r["seed"]) for r in done] == [("teacher", "0")] + [
        (m, s) for s in "01" for m in ("ce", "ce", "kr")]  # the student alone at x0.25 and x1.0
    assert len({r["teacher"] for r in done}) == 1 and "abc" not in done[0]["teacher"]
    assert all(r["params"] != "1" for r in done)  # The committed rows were replaced.
    with open(os.path.join(results, "fashion_mnist.csv")) as f:
        summary = {r["method"]: r for r in csv.DictReader(f)}
    assert summary["kr"]["seeds"] == "2" and summary["kr"]["status"] == "ok"
    # Proposed against the student alone, paired by seed.
    accuracy = {(r["row"], r["seed"]): 100 * float(r["last_accuracy"]) for r in done}
    differences = [accuracy["Proposed", s] - accuracy["Student (original)", s] for s in "01"]
    assert summary["kr"]["control"] == "Student (original)"
    assert float(summary["kr"]["difference"]) == pytest.approx(sum(differences) / 2)
    assert summary["kr"]["verdict"] == "none (2 of 5 seeds)"
    again = runs.run("reproduce", *args, "--resume")  # Resume: nothing left to run.
    assert again.returncode == 0
    assert "seed 0:" not in again.stdout
    with open(os.path.join(results, "fashion_mnist.runs.csv"), "a") as f:
        f.write("fashion_mnist,Proposed,kr,2,0123456789abcdef,1,0.5,,1.0,ok\n")
    other = runs.run("reproduce", *args, "--resume")  # A row of another teacher: refused.
    assert other.returncode != 0 and "another teacher" in other.stderr + other.stdout


def test_figures_writes_three_pngs():
    out = os.path.join(runs.workdir(), "figures")
    result = runs.run("figures", "--steps=1", "--take=64", f"--out_dir={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("fig2_penalties.png", "fig4_kernels.png", "fig5_convergence.png"):
        with open(os.path.join(out, name), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_readme_imagenet_chain_runs_on_mock_data(tmp_path):
    """The README's ImageNet commands (train_teacher -> distill -> evaluate) on
    mock ImageNet, which has no test split: every binary evaluates on
    `validation`. Shrunk to a test: CIFAR ResNet-8s at width 1/4 in place of
    ResNet-34 -> ResNet-18 (their k = 4 taps: test_experiment_config), one
    step."""
    manual = tmp_path / "downloads" / "manual"
    manual.mkdir(parents=True)
    for name in ("ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar"):
        (manual / name).write_bytes(b"")
    teacher, student = str(tmp_path / "teacher.keras"), str(tmp_path / "student.keras")
    out = str(tmp_path / "eval.json")
    small = ["--batch_size=4", "--train_take=4", "--eval_take=4"]
    result = runs.run_chain([
        ["train_teacher", "--dataset=imagenet2012", "--arch=cifar_resnet", "--depth=8",
         "--width_multiplier=0.25", "--epochs=1", *small, f"--output={teacher}"],
        ["distill", "--preset=imagenet", "--method=kr", f"--teacher={teacher}",
         "--student_arch=cifar_resnet", "--student_depth=8", "--student_width=0.25",
         "--group_size=1", "--steps=1", *small, f"--output={student}"],
        ["evaluate", f"--model={student}", "--dataset=imagenet2012", "--batch_size=4",
         "--take=4", f"--output={out}"],
    ], tfds_data_dir=str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "teacher:" in result.stdout and "student:" in result.stdout
    report = json.load(open(out))
    assert report["split"] == "validation" and report["examples"] == 4
    assert 0.0 <= report["top1_error"] <= 1.0 and 0.0 <= report["top5_error"] <= 1.0
