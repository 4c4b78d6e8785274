"""GPU check: the tests marked `gpu` and a step-time table, in one report.

Runs `pytest -m gpu` (tests/test_gpu.py: a KR `fit` under mixed_float16,
one under XLA, MirroredStrategy over two logical GPUs of the one card),
then times `train_on_batch` (`step_timing.py`, as `step_time.py` does) for
methods ce, kd, kr and kr+kd, teacher CIFAR ResNet-26 -> student ResNet-8
(32x32x3, 10 classes), at batch 256 and 512, float32 and mixed_float16, with
and without XLA, and writes `results/gpu/<device>.md`: device, versions,
test outcomes, the table and the project's goal (>= 50,000 img/s for the KR
step at batch 512 under mixed precision) beside the measured figure.

The KR batch-512 mixed-precision settings are timed first; settings that
would start after `--budget_s` seconds are reported as not run, so the whole
check stays within about 8 minutes on one H100.

Without a GPU it says so in one line and exits 0; when TensorFlow cannot be
imported it says so in one line and exits 1. `--smoke` runs every code path
on the CPU at tiny sizes (the tests on two logical CPUs, two timed
settings of ResNet-8 -> ResNet-8 at width 0.25 on 8x8 images, batch 8) and
writes the report to a temporary directory. Exit status 1 when a test
fails.

Usage:

    make gpu-check                                   # = python benchmarks/gpu_check.py
    python benchmarks/gpu_check.py --smoke           # CPU, tiny, seconds
    python benchmarks/gpu_check.py --budget_s=300 --steps=20
"""

import argparse
import datetime
import os
import platform
import re
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, ROOT)

GOAL_IMAGES_PER_SECOND = 50_000
METHODS = ("ce", "kd", "kr", "kr+kd")
BATCH_SIZES = (256, 512)
POLICIES = ("float32", "mixed_float16")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true",
                        help="CPU, tiny sizes, report to a temporary directory")
    parser.add_argument("--out_dir", default=None,
                        help="report directory (default results/gpu, a temp dir with --smoke)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per setting")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per setting")
    parser.add_argument("--budget_s", type=float, default=400.0,
                        help="start no timed setting after this many seconds of the check")
    return parser.parse_args(argv)


def one_line(error):
    return " ".join(f"{type(error).__name__}: {error}".split())


def sanitise(name):
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", name).strip("_") or "device"


def device_description(tf, gpus, smoke):
    if smoke:
        cpu = platform.processor() or platform.machine()
        return f"CPU smoke run ({cpu}, {os.cpu_count()} logical cores)", "cpu-smoke"
    details = tf.config.experimental.get_device_details(gpus[0])
    name = details.get("device_name", "GPU")
    capability = details.get("compute_capability")
    text = name + (f" (compute capability {capability[0]}.{capability[1]})" if capability else "")
    if len(gpus) > 1:
        text += f"; {len(gpus)} GPUs visible, the first is used"
    return text, name


def run_tests(smoke, junit):
    """`pytest -m gpu` in this process; returns (exit status, rows)."""
    import pytest

    if smoke:
        os.environ["KR_KERAS_GPU_SMOKE"] = "1"
    target = os.path.join(ROOT, "tests", "test_gpu.py" if smoke else "")
    status = pytest.main(["-m", "gpu", "-q", "-p", "no:cacheprovider", "-rA",
                          f"--junitxml={junit}", "--rootdir", ROOT, target])
    rows = []
    if os.path.exists(junit):
        for case in ElementTree.parse(junit).getroot().iter("testcase"):
            outcome, detail = "passed", ""
            for tag in ("failure", "error", "skipped"):
                child = case.find(tag)
                if child is not None:
                    outcome = {"failure": "failed"}.get(tag, tag)
                    detail = " ".join((child.get("message") or "").split())[:200]
            rows.append((case.get("name"), outcome, float(case.get("time", 0)), detail))
    return int(status), rows


def settings(smoke):
    """(method, batch, policy, jit) in timing order: the goal's first."""
    if smoke:
        # Both policies; no XLA here: an XLA compile costs 15-30 s of CPU,
        # and the XLA test above already compiles a KR step.
        return [("kd", 8, "float32", False), ("kr", 8, "mixed_float16", False)]
    goal = [("kr", 512, "mixed_float16", jit) for jit in (False, True)]
    rest = [(m, b, p, j) for m in METHODS for b in BATCH_SIZES for p in POLICIES
            for j in (False, True)]
    return goal + [s for s in rest if s not in goal]


def run_timing(args, started):
    import step_timing

    if args.smoke:
        pair = dict(teacher_depth=8, student_depth=8, width=0.25, input_shape=(8, 8, 3))
        steps, warmup = 2, 1
    else:
        pair = dict(teacher_depth=26, student_depth=8)
        steps, warmup = args.steps, args.warmup
    results = {}
    for setting in settings(args.smoke):
        method, batch, policy, jit = setting
        if time.monotonic() - started > args.budget_s:
            results[setting] = "not run (time budget)"
            continue
        try:
            rate, finite = step_timing.images_per_second(
                method, batch, policy, jit, steps=steps, warmup=warmup, **pair)
            results[setting] = rate if finite else f"{rate:.0f} (non-finite losses)"
        except Exception as error:  # reported in the table (e.g. out of memory)
            results[setting] = f"error: {one_line(error)[:160]}"
        value = results[setting]
        print(f"{method:<6} batch {batch:>4} {policy:<14} xla={jit!s:<5} "
              + (f"{value:,.0f} img/s" if isinstance(value, float) else value), flush=True)
    return results, steps, warmup, pair


def report(args, device_text, versions, test_status, tests, timing, elapsed):
    results, steps, warmup, pair = timing
    lines = [f"# GPU check: {device_text}", "",
             f"Written by `python benchmarks/gpu_check.py{' --smoke' if args.smoke else ''}` "
             f"(`make gpu-check`) on {datetime.datetime.now():%Y-%m-%d %H:%M}; "
             f"the check took {elapsed:.0f} s.", "",
             f"- Device: {device_text}",
             f"- {versions}", "",
             "## Tests marked `gpu`", "",
             f"`pytest -m gpu` exit status {test_status}"
             + (" (all passed)." if test_status == 0 else "."), "",
             "| test | outcome | seconds | detail |", "|---|---|---:|---|"]
    lines += [f"| {n} | {o} | {t:.1f} | {d} |" for n, o, t, d in tests]
    shape = pair.get("input_shape", (32, 32, 3))
    lines += ["", "## Step time (images/s)", "",
              f"Teacher CIFAR ResNet-{pair['teacher_depth']} -> student ResNet-"
              f"{pair['student_depth']} (width {pair.get('width', 1.0):g}), "
              f"{'x'.join(map(str, shape))}, 10 classes, SGD(0.01, momentum 0.9); one fixed "
              f"batch on the device, `train_on_batch`, {warmup} warm-up steps then {steps} "
              "timed steps per setting (`benchmarks/step_timing.py`).", "",
              "| method | batch | policy | XLA | img/s |", "|---|---:|---|---|---:|"]
    for setting in sorted(results, key=lambda s: (METHODS.index(s[0]), s[1], s[2], s[3])):
        value = results[setting]
        value = f"{value:,.0f}" if isinstance(value, float) else value
        method, batch, policy, jit = setting
        lines.append(f"| {method} | {batch} | {policy} | {'on' if jit else 'off'} | {value} |")
    goal = {jit: results.get(("kr", 512, "mixed_float16", jit)) for jit in (False, True)}
    measured = [(v, jit) for jit, v in goal.items() if isinstance(v, float)]
    lines += ["", "## Goal", ""]
    if args.smoke:
        lines.append(f"Goal: >= {GOAL_IMAGES_PER_SECOND:,} img/s for the KR step at batch 512 "
                     "under mixed precision on one H100. Not measured: this is a CPU smoke run "
                     "at tiny sizes.")
    elif measured:
        best, jit = max(measured)
        verdict = "met" if best >= GOAL_IMAGES_PER_SECOND else "not met"
        other = goal[not jit]
        other = f"{other:,.0f} img/s" if isinstance(other, float) else other
        lines.append(f"KR step, batch 512, mixed_float16: measured {best:,.0f} img/s "
                     f"(XLA {'on' if jit else 'off'}; XLA {'off' if jit else 'on'}: {other}); "
                     f"goal >= {GOAL_IMAGES_PER_SECOND:,} img/s on one H100: {verdict} on "
                     "this device.")
    else:
        lines.append(f"KR step, batch 512, mixed_float16: no figure ({goal}); goal "
                     f">= {GOAL_IMAGES_PER_SECOND:,} img/s.")
    return "\n".join(lines) + "\n", lines[-1]


def main(argv=None):
    args = parse_args(argv)
    started = time.monotonic()
    try:
        import tensorflow as tf
    except Exception as error:  # ImportError, or a broken installation
        print(f"gpu_check: TensorFlow cannot be imported ({one_line(error)}); "
              "install it with `make setup`.")
        return 1
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus and not args.smoke:
        print(f"gpu_check: no GPU visible to TensorFlow {tf.__version__}; nothing to check "
              "(GPU wheels: pip install 'tensorflow[and-cuda]'; CPU check: --smoke).")
        return 0
    for gpu in gpus:  # leave memory for the strategy test's subprocess
        tf.config.experimental.set_memory_growth(gpu, True)
    import keras

    device_text, device_name = device_description(tf, gpus, args.smoke)
    build = tf.sysconfig.get_build_info()
    versions = (f"TensorFlow {tf.__version__}, Keras {keras.__version__}, Python "
                f"{platform.python_version()}"
                + (f", CUDA {build.get('cuda_version')}, cuDNN {build.get('cudnn_version')}"
                   if build.get("is_cuda_build") else ""))
    out_dir = args.out_dir or (tempfile.mkdtemp(prefix="gpu_check_") if args.smoke
                               else os.path.join(ROOT, "results", "gpu"))
    os.makedirs(out_dir, exist_ok=True)
    print(f"gpu_check: {device_text}; {versions}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        test_status, tests = run_tests(args.smoke, os.path.join(tmp, "junit.xml"))
    timing = run_timing(args, started)
    text, goal_line = report(args, device_text, versions, test_status, tests, timing,
                             time.monotonic() - started)
    path = os.path.join(out_dir, sanitise(device_name) + ".md")
    with open(path, "w") as f:
        f.write(text)
    print(f"gpu_check: wrote {path}")
    print(goal_line)
    return 0 if test_status == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
