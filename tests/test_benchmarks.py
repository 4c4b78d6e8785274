"""The step benchmarks run end to end at tiny sizes (no timed assertions):
`benchmarks/step_ratio.py --quick`, `benchmarks/kr_profile.py --quick`,
`benchmarks/gpu_check.py --smoke`, and `benchmarks/applications_probe.py` on its
small Sequential pair."""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(script, *args, env=None):
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    process = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", script), *args], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
    return process.returncode, process.stdout.strip().splitlines(), process.stderr


def test_step_ratio_quick_times_every_method(tmp_path):
    out = tmp_path / "step_ratio.md"
    status, lines, stderr = run("step_ratio.py", "--quick", "--methods=kr,kr+kd", f"--out={out}")
    assert status == 0, stderr[-4000:]
    assert re.fullmatch(r"kr\+kd/kd \d+\.\d{3}", lines[-2]), lines[-3:]
    assert re.fullmatch(r"kr/kd \d+\.\d{3}", lines[-1]), lines[-3:]
    table = out.read_text()
    for method in ("ce", "kd", "kr", "kr\\+kd"):
        assert re.search(rf"^\| {method} \| \d+ \|", table, re.M), (method, table)


def test_kr_profile_quick_groups_the_traced_ops(tmp_path):
    out = tmp_path / "kr_profile.md"
    status, _, stderr = run("kr_profile.py", "--quick", "--methods=kr", f"--out={out}")
    assert status == 0, stderr[-4000:]
    table = out.read_text()
    # The trace was read and its ops fell into the nets' groups and outside.
    for group in ("student backward", "teacher forward", "outside the nets: matrix products"):
        assert re.search(rf"^\| {group} \| \d+\.\d \|", table, re.M), table
    assert re.search(r"^\| `sparse_recoding_\d", table, re.M) or "SelectV2" in table, table


def test_gpu_check_smoke_runs_tests_table_and_report(tmp_path):
    status, lines, stderr = run("gpu_check.py", "--smoke", f"--out_dir={tmp_path}")
    assert status == 0, "\n".join(lines[-40:]) + stderr[-4000:]
    report = (tmp_path / "cpu-smoke.md").read_text()
    for test in ("test_kr_fit_mixed_float16_has_finite_losses",
                 "test_kr_fit_xla_has_finite_losses",
                 "test_mirrored_two_logical_devices_first_step_equals_one_device"):
        assert re.search(rf"^\| {test} \| passed \|", report, re.M), report
    assert "`pytest -m gpu` exit status 0" in report
    assert "TensorFlow 2." in report and "Keras 3." in report
    assert re.search(r"^\| kd \| 8 \| float32 \| off \| [\d,]+ \|$", report, re.M), report
    assert re.search(r"^\| kr \| 8 \| mixed_float16 \| off \| [\d,]+ \|$", report, re.M), report
    assert "50,000 img/s" in report and lines[-1].startswith("Goal:")


def test_gpu_check_without_gpu_says_so_in_one_line():
    status, lines, _ = run("gpu_check.py", env={"CUDA_VISIBLE_DEVICES": ""})
    assert status == 0
    assert len(lines) == 1 and lines[0].startswith("gpu_check: no GPU visible"), lines


def test_gpu_check_without_tensorflow_says_so_in_one_line(tmp_path):
    broken = tmp_path / "tensorflow"
    broken.mkdir()
    (broken / "__init__.py").write_text("raise ImportError('libcudart.so.12: cannot open')\n")
    status, lines, _ = run("gpu_check.py", env={"PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"})
    assert status == 1
    assert lines == ["gpu_check: TensorFlow cannot be imported (ImportError: libcudart.so.12: "
                     "cannot open); install it with `make setup`."], lines


def test_profile_groups_name_ops_by_what_they_do_not_by_kernel():
    # step_timing defines no absl flags, so importing it here is safe.
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    try:
        import step_timing
    finally:
        sys.path.pop(0)
    for kind in ("MatMul", "_MklMatMul", "_FusedMatMul", "BatchMatMulV2"):
        assert step_timing.op_kind(kind) == "matrix products", kind
    assert step_timing.op_kind("_MklNativeConv2DBackpropFilter") == "convolutions"
    assert step_timing.op_kind("Mul") == "Mul"


def test_applications_probe_reports_each_method(tmp_path):
    out = tmp_path / "probe.md"
    status, lines, stderr = run("applications_probe.py", "--pairs=sequential",
                                "--methods=kd,fsp", "--steps=2", f"--out={out}")
    assert status == 0, stderr[-4000:]
    assert re.match(r"sequential +kd +lr 0\.01 +ok +loss \d", lines[1]), lines
    # Its student is thinner than its teacher: FSP's channel error, reported.
    assert re.match(r"sequential +fsp +lr 0\.01 +error +ValueError: FSP cannot pair", lines[2])
    assert "applications_probe.py --pairs=sequential" in out.read_text()
    bad = run("applications_probe.py", "--pairs=nope", "--out=")
    assert bad[0] != 0 and "Unknown pairs ['nope']" in bad[2]
