"""Every numeric flag of every binary is bounded: a bad value stops absl's
flag parsing with one line naming the flag (exit 1, no traceback)."""

import json
import os
import subprocess
import sys

from tests import experiment_runs as runs

# Numeric flags for which 0 is a valid value; every other one must be >= 1 (or > 0).
ZERO_OK = {"seed", "verbose", "mu", "gamma", "boost", "floor", "target_inactive", "momentum",
           "weight_decay", "precise_bn_samples", "distortion_sigma",
           "seeds", "teacher_seed"}  # demo --seeds=0: the one-seed demo
ABOVE_RANGE = {"target_inactive": "1.5", "momentum": "1.5", "verbose": "3"}
REQUIRED = {"model": "m.keras", "student": "s.keras", "teacher": "t.keras"}

SCRIPT = """
import contextlib, importlib, io, json, pkgutil, sys
from absl import app, flags
import experiments

zero_ok, above, required = json.loads(sys.argv[1])
FLAGS = flags.FLAGS
report = {}
for binary in sorted(m.name for m in pkgutil.iter_modules(experiments.__path__)
                     if not m.ispkg and not m.name.startswith("_")):
    main = importlib.import_module("experiments." + binary).main
    mine = sorted(f.name for f in FLAGS.flags_by_module_dict().get("experiments." + binary, []))
    base = [f"--{name}={value}" for name, value in required.items() if name in mine]
    FLAGS([binary, *base])  # The defaults (and the required flags) parse.
    numeric = [n for n in mine if isinstance(FLAGS[n].parser, flags.ArgumentParser)
               and FLAGS[n].parser.flag_type() in ("int", "float")]
    results = {}
    for name in numeric:
        bad = ["-1"] + ([] if name in zero_ok else ["0"]) + ([above[name]] if name in above else [])
        for value in bad:
            try:
                FLAGS([binary, *base, f"--{name}={value}"])
                results[f"{name}={value}"] = None
            except flags.Error as error:
                results[f"{name}={value}"] = str(error)
            FLAGS[name].unparse()
    report[binary] = results
    if binary == "train_teacher":  # What a user sees, through app.run.
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            try:
                app.run(main, argv=[binary, "--batch_size=0"])
            except SystemExit as exit:
                report["app_run"] = {"code": exit.code, "stderr": stderr.getvalue()}
    for name in mine:
        delattr(FLAGS, name)
print(json.dumps(report))
"""


def test_every_numeric_flag_rejects_out_of_range_values():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps([sorted(ZERO_OK), ABOVE_RANGE, REQUIRED])],
        cwd=runs.ROOT, env=runs.ENV, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    binaries = {n[:-3] for n in os.listdir(os.path.join(runs.ROOT, "experiments"))
                if n.endswith(".py") and not n.startswith("_")}
    assert binaries <= set(report), sorted(binaries - set(report))
    accepted = [f"{b} --{flag}" for b in binaries for flag, error in report[b].items()
                if error is None]
    assert not accepted, f"out-of-range values accepted: {accepted}"
    for binary in binaries:
        for flag, error in report[binary].items():
            assert f"flag --{flag.split('=')[0]}=" in error and "\n" not in error, (binary, error)
    # The checks cover the flags named in the issue.
    assert {"epochs=-1", "batch_size=0", "lr=0"} <= set(report["train_teacher"])
    # Through app.run: exit 1 and absl's one-line error, no traceback.
    app_run = report["app_run"]
    assert app_run["code"] == 1
    assert "FATAL Flags parsing error: flag --batch_size=0" in app_run["stderr"]
    assert "Traceback" not in app_run["stderr"]
