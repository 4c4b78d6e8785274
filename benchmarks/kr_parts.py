"""Where a KR training step's time goes, part by part, beside the KD step.

`step_ratio.py --variants` times whole KR steps with one part left out; on
2 shared cores their differences drown in noise, and TensorFlow overlaps
independent parts of one step. This script times the parts *alone*, each
as its own `tf.function` on the same batch (ResNet-32 -> ResNet-8, 32x32x3,
batch 128 by default), interleaved round by round with the whole KD and KR
steps, and reports each as a fraction of the KD step (median per-round
ratio):

- `teacher forward`: the frozen teacher, shared by KD and KR;
- `merge + concatenate`: the group's maps concatenated on channels (the
  step before the aggregators stopped concatenating) vs `merge` (the
  library: identity mappings only);
- `projection fwd+bwd, conv on concat` vs `matmul per map`: the 1x1
  projections and their weight gradients, the old way and the library's;
- `knowledge step`: Eq. 9 alone (projection, BN, l2, loss, backward,
  optimizer, second projection) on fixed student maps;
- `prior fwd+bwd`: Eq. 10's prior term (l2 normalisation, SRP, distance)
  and its gradient to the student maps.

    python benchmarks/kr_parts.py        # writes results/benchmarks/kr_parts.md

The parts overlap inside the real step, so they do not add up to the KR
step's extra time; they say which parts are big.
"""

import os
import sys
import time

import numpy as np
from absl import app
from absl import flags

import keras
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import step_timing  # noqa: E402

_TEACHER = flags.DEFINE_integer("teacher_depth", 32, "CIFAR ResNet depth of the teacher.")
_STUDENT = flags.DEFINE_integer("student_depth", 8, "CIFAR ResNet depth of the student.")
_BATCH = flags.DEFINE_integer("batch_size", 128, "Batch size.", lower_bound=2)
_ROUNDS = flags.DEFINE_integer("rounds", 5, "Interleaved rounds.", lower_bound=1)
_STEPS = flags.DEFINE_integer("steps", 3, "Calls per part per round.", lower_bound=1)
_QUICK = flags.DEFINE_bool("quick", False, "Smoke run: ResNet-8 -> 8, batch 8, 1 round of 1.")
_OUT = flags.DEFINE_string("out", "results/benchmarks/kr_parts.md", "Markdown output.")


def _numpy(outputs):
    return [v.numpy() for v in tf.nest.flatten(outputs)]


def parts(kd, kr, x, y):
    """name -> a no-argument callable running that part once."""
    _, teacher_features = kr._teacher_forward(x)
    mapped = [[tf.constant(m) for m in maps] for maps in kr._merged(teacher_features)]
    _, *student_features = kr._student_tapped(x, training=False)
    student_features = [tf.constant(s) for s in student_features]
    measured = [tf.constant(kr._to_measure(s)) for s in student_features]
    knowledge = [tf.constant(k) for k in kr._knowledge(mapped, training=False)]
    kernels = [a.projection.kernel for a in kr.aggregators]
    concatenated = [tf.constant(tf.concat(m, -1)) for m in mapped]

    @tf.function
    def teacher_forward():
        return kr._teacher_forward(x)

    @tf.function
    def merge_concat():
        return [tf.concat(m, -1) for m in kr._merged(teacher_features)]

    @tf.function
    def merge():
        return kr._merged(teacher_features)

    @tf.function
    def projection_conv():
        with tf.GradientTape() as tape:
            loss = tf.add_n([tf.reduce_sum(tf.square(a.projection(m)))
                             for a, m in zip(kr.aggregators, concatenated)])
        return tape.gradient(loss, kernels)

    @tf.function
    def projection_matmul():
        with tf.GradientTape() as tape:
            loss = tf.add_n([tf.reduce_sum(tf.square(a._projection(m)))
                             for a, m in zip(kr.aggregators, mapped)])
        return tape.gradient(loss, kernels)

    @tf.function
    def knowledge_step():
        variables = kr.knowledge_variables
        with tf.GradientTape() as tape:
            loss = kr._knowledge_loss(kr._knowledge(mapped, training=True), measured,
                                      measured=True)
        kr.knowledge_optimizer.apply(tape.gradient(loss, variables), variables)
        return kr._knowledge(mapped, training=True, update_statistics=False)

    @tf.function
    def prior():
        with tf.GradientTape() as tape:
            tape.watch(student_features)
            loss = kr._prior_loss(knowledge, student_features)
        return tape.gradient(loss, student_features)

    return {
        "kd step": lambda: kd.train_on_batch(x, y),
        "kr step": lambda: kr.train_on_batch(x, y),
        "teacher forward": lambda: _numpy(teacher_forward()),
        "merge + concatenate (before)": lambda: _numpy(merge_concat()),
        "merge (library)": lambda: _numpy(merge()),
        "projection fwd+bwd, conv on concat (before)": lambda: _numpy(projection_conv()),
        "projection fwd+bwd, matmul per map (library)": lambda: _numpy(projection_matmul()),
        "knowledge step (Eq. 9)": lambda: _numpy(knowledge_step()),
        "prior fwd+bwd (Eq. 10's prior)": lambda: _numpy(prior()),
    }


def main(argv):
    del argv
    teacher_depth, student_depth, batch = _TEACHER.value, _STUDENT.value, _BATCH.value
    rounds, steps = _ROUNDS.value, _STEPS.value
    if _QUICK.value:
        teacher_depth, student_depth, batch, rounds, steps = 8, 8, 8, 1, 1
    x, y = step_timing.random_batch(batch)
    kd = step_timing.build_compiled("kd", teacher_depth, student_depth)
    kr = step_timing.build_compiled("kr", teacher_depth, student_depth)
    kr.train_on_batch(x, y)  # builds the knowledge optimizer
    timed = parts(kd, kr, x, y)
    for run in timed.values():  # trace and warm up
        run()
        run()
    seconds = {name: [] for name in timed}
    load = os.getloadavg()[0]
    for _ in range(rounds):
        for name, run in timed.items():
            start = time.perf_counter()
            for _ in range(steps):
                run()
            seconds[name].append((time.perf_counter() - start) / steps)
    kd_seconds = np.array(seconds["kd step"])
    command = "python benchmarks/kr_parts.py " + " ".join(sys.argv[1:])
    lines = ["# Where a KR step's time goes, part by part", "",
             f"Command: `{command.strip()}`; TensorFlow {tf.__version__}, Keras "
             f"{keras.__version__}, {os.cpu_count()} logical cores, load average (1 min) "
             f"{load:.2f} before, {os.getloadavg()[0]:.2f} after.  ",
             f"Teacher ResNet-{teacher_depth} -> student ResNet-{student_depth}, 32x32x3, "
             f"batch {batch}; each part alone as its own tf.function, {rounds} interleaved "
             f"rounds of {steps} calls. Parts overlap inside the real step, so they do not "
             "add up to the KR step's extra time.", "",
             "| part | ms (median) | ÷ kd step (median per-round ratio) |", "|---|---:|---:|"]
    for name, values in seconds.items():
        ratio = float(np.median(np.array(values) / kd_seconds))
        lines.append(f"| {name} | {1000 * np.median(values):.1f} | {ratio:.3f} |")
        print(f"{name}: {1000 * np.median(values):.1f} ms, {ratio:.3f} x kd step", flush=True)
    os.makedirs(os.path.dirname(_OUT.value) or ".", exist_ok=True)
    with open(_OUT.value, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {_OUT.value}")


if __name__ == "__main__":
    sys.exit(app.run(main))
