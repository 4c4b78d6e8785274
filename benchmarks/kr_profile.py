"""Op-level profile of the KR and KD training steps (`tf.profiler`).

Runs a few `train_on_batch` steps of each method (ResNet-32 -> ResNet-8,
32x32x3, batch 128 by default) under `tf.profiler`, converts each trace to
TensorFlow's framework op statistics, and sums every op's self time into
groups by op name: the teacher's and the student's layers (forward), the
student's backward (`gradient_tape/<student>/...`), and everything outside
the two nets (KR's aggregators, normalisations, losses and their
gradients), the latter split by op type.

    python benchmarks/kr_profile.py      # writes results/benchmarks/kr_profile.md

Self times are summed over TensorFlow's threads, so they are thread time,
not wall time: two ops running side by side on the 2 cores each count in
full. Compare the groups, and the two methods, within one run.
"""

import collections
import glob
import json
import os
import sys
import tempfile
import time

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import step_timing  # noqa: E402

_METHODS = flags.DEFINE_list("methods", ["kd", "kr"], "Registry methods to profile.")
_TEACHER = flags.DEFINE_integer("teacher_depth", 32, "CIFAR ResNet depth of the teacher.")
_STUDENT = flags.DEFINE_integer("student_depth", 8, "CIFAR ResNet depth of the student.")
_BATCH = flags.DEFINE_integer("batch_size", 128, "Batch size.", lower_bound=2)
_STEPS = flags.DEFINE_integer("steps", 5, "Profiled steps per method.", lower_bound=1)
_TOP = flags.DEFINE_integer("top", 15, "Ops listed outside the nets, per method.")
_QUICK = flags.DEFINE_bool("quick", False, "Smoke run: ResNet-14 -> 8, batch 8, 1 step.")
_OUT = flags.DEFINE_string("out", "results/benchmarks/kr_profile.md", "Markdown output.")


def op_stats(distiller, x, y, steps, logdir):
    """Rows of TensorFlow's framework op statistics for `steps` steps."""
    import tensorflow as tf
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as plugin

    step_timing.time_steps(distiller, x, y, 2)  # traced before the trace starts
    tf.profiler.experimental.start(logdir)
    step_timing.time_steps(distiller, x, y, steps)
    tf.profiler.experimental.stop()
    paths = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
    data, ok = plugin.xspace_to_tools_data(paths, "framework_op_stats", {})
    if not ok:
        raise RuntimeError(f"tf.profiler could not convert {paths}")
    table = json.loads(data)[0]
    columns = [c["id"] for c in table["cols"]]
    return [dict(zip(columns, [cell.get("v") if cell else None for cell in row["c"]]))
            for row in table["rows"]]


def group(row, teacher, student):
    """The group of one op, from its name and type."""
    name, kind = row["operation"], row["type"]
    if kind == "IDLE":
        return "idle threads"
    if name.startswith(f"gradient_tape/{student}_"):
        return "student backward"
    if name.startswith(f"{student}_"):
        return "student forward"
    if name.startswith(f"{teacher}_"):
        return "teacher forward"
    return f"outside the nets: {step_timing.op_kind(kind)}"


def main(argv):
    del argv
    import tensorflow as tf

    quick = _QUICK.value
    teacher_depth, student_depth = (14, 8) if quick else (_TEACHER.value, _STUDENT.value)
    batch, steps = (8, 1) if quick else (_BATCH.value, _STEPS.value)
    x, y = step_timing.random_batch(batch, (32, 32, 3))
    totals, outside = {}, {}
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    for method in _METHODS.value:
        distiller = step_timing.build_compiled(method, teacher_depth, student_depth,
                                               input_shape=(32, 32, 3))
        # Name scopes of the nets' ops: the tapped models' names.
        names = (distiller._teacher_tapped.name, distiller._student_tapped.name)
        with tempfile.TemporaryDirectory() as logdir:
            rows = op_stats(distiller, x, y, steps, logdir)
        groups = collections.Counter()
        ops = collections.Counter()
        for row in rows:
            g = group(row, *names)
            groups[g] += row["total_self_time"] / 1e3 / steps  # ms per step
            if g.startswith("outside"):
                ops[(row["operation"], row["type"])] += row["total_self_time"] / 1e3 / steps
        totals[method], outside[method] = groups, ops
        print(f"{method}: {sum(groups.values()):.0f} ms of thread time per step", flush=True)

    lines = ["# Op-level profile of the training steps (tf.profiler)", "",
             f"Command: `python benchmarks/kr_profile.py {' '.join(sys.argv[1:])}`".rstrip()
             + "  ",
             f"Started {started}; TensorFlow {tf.__version__}; teacher ResNet-{teacher_depth} "
             f"-> student ResNet-{student_depth}, 32x32x3, batch {batch}, {steps} profiled "
             f"steps per method; load average (1 min) {os.getloadavg()[0]:.2f} at the end.", "",
             "Self time of every op, summed per group, in ms of thread time per step "
             "(2 cores: thread time, not wall time).", "",
             "| group | " + " | ".join(totals) + " |", "|---|" + "---:|" * len(totals)]
    keys = sorted(set().union(*totals.values()),
                  key=lambda k: -max(t.get(k, 0.0) for t in totals.values()))
    for key in keys:
        lines.append(f"| {key} | " + " | ".join(f"{t.get(key, 0.0):.1f}"
                                                 for t in totals.values()) + " |")
    lines.append("| **all** | " + " | ".join(f"**{sum(t.values()):.1f}**"
                                             for t in totals.values()) + " |")
    for method, ops in outside.items():
        lines += ["", f"Largest ops outside the nets, `{method}` (ms of thread time per step):",
                  "", "| op | type | ms |", "|---|---|---:|"]
        for (name, kind), ms in ops.most_common(_TOP.value):
            lines.append(f"| `{name}` | {kind} | {ms:.1f} |")
    os.makedirs(os.path.dirname(os.path.abspath(_OUT.value)), exist_ok=True)
    with open(_OUT.value, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {_OUT.value}")


if __name__ == "__main__":
    app.run(main)
