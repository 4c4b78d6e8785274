"""Is SRP's threshold stable? tau per tap, step by step, at three student lrs.

Fashion-MNIST, teacher ResNet-20 -> student ResNet-8x0.75, group_size 3,
mu 0.1, student SGD(lr, momentum 0.9), knowledge SGD(0.1, momentum 0.9),
batch 128, 80 steps. After each step it records every tap's `tau`; from
step 20 on it reports, per tap, the fraction of steps with `tau == 0` and
the median relative step `|dtau| / tau` (the acceptance of issue 13: never
0, median <= 0.10, at lr 0.01, 0.05 and 0.1).

    python benchmarks/srp_threshold.py            # writes results/benchmarks/srp_threshold.md

`--teacher` takes a trained `.keras` teacher; without one a ResNet-20 is
trained for `--teacher_steps` steps first (cached under saved_models/).
"""

import os
import sys

import numpy as np
from absl import app
from absl import flags

import keras
import kr_keras
from kr_keras.models import cifar_resnet

flags.DEFINE_string("teacher", "", "A trained teacher .keras (optional).")
flags.DEFINE_integer("teacher_steps", 300, "Steps of the teacher trained when none is given.",
                     lower_bound=1)
flags.DEFINE_integer("steps", 80, "Student steps per learning rate.", lower_bound=21)
flags.DEFINE_list("lrs", ["0.01", "0.05", "0.1"], "Student learning rates.")
flags.DEFINE_string("label", "after", "Name of this run in the results file.")
flags.DEFINE_string("out", "results/benchmarks/srp_threshold.md", "Markdown output.")
FLAGS = flags.FLAGS


def _teacher(train):
    if FLAGS.teacher:
        return keras.models.load_model(FLAGS.teacher)
    path = f"saved_models/srp_threshold_teacher_{FLAGS.teacher_steps}.keras"
    if os.path.exists(path):
        return keras.models.load_model(path)
    keras.utils.set_random_seed(0)
    teacher = cifar_resnet(20, input_shape=(28, 28, 1))
    teacher.compile(keras.optimizers.SGD(0.1, momentum=0.9),
                    keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    teacher.fit(train.repeat(), steps_per_epoch=FLAGS.teacher_steps, epochs=1, verbose=0)
    os.makedirs("saved_models", exist_ok=True)
    teacher.save(path)
    return teacher


def measure(teacher, train, lr):
    keras.utils.set_random_seed(0)
    student = cifar_resnet(8, width_multiplier=0.75, input_shape=(28, 28, 1))
    distiller = kr_keras.KRDistiller(teacher, student, group_size=3, mu=0.1)
    distiller.compile(optimizer=keras.optimizers.SGD(lr, momentum=0.9),
                      auxiliary_optimizer=keras.optimizers.SGD(0.1, momentum=0.9))
    taus = []
    for x, y in train.repeat().take(FLAGS.steps):
        distiller.train_on_batch(x, y)
        taus.append([float(r.tau.numpy()) for r in distiller.kr.recoders])
    taus = np.array(taus[20:])
    zero = np.mean(taus <= 0.0, axis=0)
    safe = np.where(taus[:-1] > 0, taus[:-1], np.nan)
    relative = np.abs(np.diff(taus, axis=0)) / safe
    median = np.nanmedian(np.where(np.isfinite(relative), relative, np.inf), axis=0)
    return zero, median


def main(argv):
    del argv
    train = kr_keras.data.load("fashion_mnist", "train", batch_size=128, take=12_000, seed=0)
    teacher = _teacher(train)
    lines = [f"## {FLAGS.label}", "",
             f"`python benchmarks/srp_threshold.py --label={FLAGS.label}` "
             f"(kr_keras {getattr(kr_keras, '__version__', '?')}; {FLAGS.steps} steps, "
             "statistics over steps 20 on)", "",
             "| student lr | tap | steps with tau = 0 | median \\|dtau\\|/tau |",
             "|---:|---:|---:|---:|"]
    for lr in (float(v) for v in FLAGS.lrs):
        zero, median = measure(teacher, train, lr)
        for tap, (z, m) in enumerate(zip(zero, median)):
            lines.append(f"| {lr:g} | {tap} | {100 * z:.0f}% | {m:.3f} |")
            print(f"lr {lr:g} tap {tap}: tau=0 on {100 * z:.0f}% of steps, "
                  f"median relative step {m:.3f}", flush=True)
    os.makedirs(os.path.dirname(FLAGS.out) or ".", exist_ok=True)
    with open(FLAGS.out, "a") as f:
        f.write("\n".join(lines) + "\n\n")
    print(f"Appended to {FLAGS.out}")


if __name__ == "__main__":
    sys.exit(app.run(main))
