"""Throughput of each method's training step relative to KD and to the
student alone, measured side by side.

Teacher CIFAR ResNet-32 -> student ResNet-8 (32x32x3, 10 classes), one fixed
batch, `train_on_batch` (every method's step compiled the same way; no
`teacher.predict` in the denominator). After `--warmup` steps each (tracing),
the methods run interleaved: in each of `--rounds` rounds every method times
`--steps` steps, in an order rotated from round to round, so that load from
other jobs on the machine falls on all of them alike. For every round the
script takes each method's images/s over KD's and over the student alone's
("ce") of the same round, and reports the median of these per-round ratios.

Writes a markdown table to `--out` and prints it; the last two printed lines
are `kr+kd/kd <ratio>` and `kr/kd <ratio>` when those methods are timed.

Usage:

    python benchmarks/step_ratio.py                     # batch 128, 6 rounds of 8 steps
    python benchmarks/step_ratio.py --quick             # tiny nets, seconds
    python benchmarks/step_ratio.py --batch_size=256 --rounds=10
"""

import os
import platform
import statistics
import sys
import time

from absl import app, flags

import step_timing

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

_TEACHER = flags.DEFINE_integer("teacher_depth", 32, "CIFAR ResNet depth of the teacher.")
_STUDENT = flags.DEFINE_integer("student_depth", 8, "CIFAR ResNet depth of the student.")
_WIDTH = flags.DEFINE_float("width", 1.0, "Width multiplier of both nets.")
_IMAGE = flags.DEFINE_integer("image_size", 32, "Input height and width (3 channels).")
_BATCH = flags.DEFINE_integer("batch_size", 128, "Batch size.")
_METHODS = flags.DEFINE_list("methods", ["ce", "kd", "kr", "kr_dense", "kr+kd"],
                             "Registered methods to time; kd and ce are always added.")
_ROUNDS = flags.DEFINE_integer("rounds", 6, "Interleaved rounds.")
_STEPS = flags.DEFINE_integer("steps", 8, "Timed steps per method per round.")
_WARMUP = flags.DEFINE_integer("warmup", 3, "Untimed steps per method first (tracing).")
_JIT = flags.DEFINE_bool("jit", False, "compile(jit_compile=...) for every method.")
_POLICY = flags.DEFINE_string("policy", "float32", "Keras dtype policy.")
_QUICK = flags.DEFINE_bool("quick", False,
                           "Tiny: ResNet-8 -> ResNet-8 at width 0.25, 8x8 images, batch 8, "
                           "2 rounds of 1 step, 1 warm-up step.")
_OUT = flags.DEFINE_string("out", os.path.join(ROOT, "results", "benchmarks", "step_ratio.md"),
                           "Markdown file to write.")


def settings():
    s = dict(teacher_depth=_TEACHER.value, student_depth=_STUDENT.value, width=_WIDTH.value,
             image=_IMAGE.value, batch=_BATCH.value, rounds=_ROUNDS.value, steps=_STEPS.value,
             warmup=_WARMUP.value)
    if _QUICK.value:
        s.update(teacher_depth=8, student_depth=8, width=0.25, image=8, batch=8, rounds=2,
                 steps=1, warmup=1)
    return s


def method_list():
    return list(dict.fromkeys(["ce", "kd", *_METHODS.value]))


def build(method, s):
    kwargs = dict(jit=_JIT.value, width=s["width"], input_shape=(s["image"], s["image"], 3))
    return step_timing.build_compiled(method, s["teacher_depth"], s["student_depth"], **kwargs)


def median_ratio(rates, method, base):
    return statistics.median(r[method] / r[base] for r in rates)


def main(argv):
    del argv
    import keras
    import tensorflow as tf

    s = settings()
    methods = method_list()
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    load_before = os.getloadavg()
    x, y = step_timing.random_batch(s["batch"], (s["image"], s["image"], 3))
    distillers = {}
    with step_timing.policy_scope(_POLICY.value):
        for method in methods:
            distillers[method] = build(method, s)
        # Warm up only once every model is built: building a model (it
        # seeds TensorFlow) makes the steps traced before it trace again.
        for method in methods:
            step_timing.time_steps(distillers[method], x, y, s["warmup"])
        rates = []  # one {method: images/s} per round
        for r in range(s["rounds"]):
            order = methods[r % len(methods):] + methods[:r % len(methods)]
            rates.append({})
            for method in order:
                seconds, logs = step_timing.time_steps(distillers[method], x, y, s["steps"])
                if not step_timing.finite(logs):
                    raise RuntimeError(f"{method}: non-finite losses {logs}")
                rates[-1][method] = s["batch"] * s["steps"] / seconds
    load_after = os.getloadavg()

    gpus = tf.config.list_physical_devices("GPU")
    device = (tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
              if gpus else f"CPU ({platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} logical cores)")
    lines = [
        "# Training-step throughput relative to KD and to the student alone",
        "",
        f"Command: `python benchmarks/step_ratio.py {' '.join(sys.argv[1:])}`".rstrip() + "  ",
        f"Started {started}; device: {device}; TensorFlow {tf.__version__}, "
        f"Keras {keras.__version__}; policy {_POLICY.value}, jit_compile={_JIT.value}.  ",
        f"Teacher ResNet-{s['teacher_depth']} -> student ResNet-{s['student_depth']} "
        f"(width {s['width']:g}), {s['image']}x{s['image']}x3, batch {s['batch']}; "
        f"{s['warmup']} warm-up steps each, then {s['rounds']} interleaved rounds of "
        f"{s['steps']} steps.  ",
        f"Load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after.",
        "",
        "| method | img/s (median of rounds) | img/s min..max | ÷ kd (median per-round ratio) "
        "| ÷ ce (median per-round ratio) |",
        "|---|---:|---:|---:|---:|",
    ]
    for method in methods:
        per_round = [r[method] for r in rates]
        lines.append(
            f"| {method} | {statistics.median(per_round):.0f} | {min(per_round):.0f}.."
            f"{max(per_round):.0f} | {median_ratio(rates, method, 'kd'):.3f} "
            f"| {median_ratio(rates, method, 'ce'):.3f} |")
    lines += ["", "Per-round img/s:", "",
              "| round | " + " | ".join(methods) + " |",
              "|---|" + "---:|" * len(methods)]
    for i, r in enumerate(rates):
        lines.append(f"| {i + 1} | " + " | ".join(f"{r[m]:.0f}" for m in methods) + " |")
    os.makedirs(os.path.dirname(os.path.abspath(_OUT.value)), exist_ok=True)
    with open(_OUT.value, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {_OUT.value}")
    for method in ("kr+kd", "kr"):
        if method in methods:
            print(f"{method}/kd {median_ratio(rates, method, 'kd'):.3f}")


if __name__ == "__main__":
    app.run(main)
