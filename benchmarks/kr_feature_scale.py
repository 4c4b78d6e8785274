"""KR's prior term side by side: student alone vs KR with raw or unit-norm
matching. Prints test accuracy and the RMS of the student's tapped block
outputs (the raw reading lets the student shrink them; docs/method.md), and
writes the lines to `results/benchmarks/kr_feature_scale.md` (`--out`) with
the command and the machine.

The teacher is the demo's cached teacher (`make demo` trains it) when it
exists, else a ResNet-20 trained here for 3 epochs on the training subset.

    PYTHONPATH=. python benchmarks/kr_feature_scale.py --train_examples=12000 --epochs=3
    PYTHONPATH=. python benchmarks/kr_feature_scale.py --quick   # smoke run
"""

import os

import keras
import numpy as np
from absl import app
from absl import flags

import kr_keras

_EXAMPLES = flags.DEFINE_integer("train_examples", 12000, "Training subset.")
_EPOCHS = flags.DEFINE_integer("epochs", 3, "Epochs per run.")
_MU = flags.DEFINE_list("mu", ["1.0", "0.1"], "KR prior weights to compare.")
_TEACHER = flags.DEFINE_string("teacher", None,
                               "Teacher (.keras); default: the demo's cached teacher "
                               "(experiments.lib.demo.teacher_cache_path(DemoConfig())). Trained for "
                               "3 epochs here if missing.")
_LR = flags.DEFINE_float("lr", 0.05, "Student SGD learning rate.")
_QUICK = flags.DEFINE_bool("quick", False, "Smoke run: 512 images, 1 epoch, mu=1 only, a 1-epoch "
                           "teacher if none is cached (its numbers are not the documented ones).")
_OUT = flags.DEFINE_string("out", "results/benchmarks/kr_feature_scale.md",
                           "Also write the printed lines here ('' for nowhere).")


def _teacher(train, epochs):
    from experiments.lib.demo import DemoConfig, teacher_cache_path

    path = _TEACHER.value or teacher_cache_path(DemoConfig())
    if os.path.exists(path):
        return keras.models.load_model(path), path
    teacher = kr_keras.models.cifar_resnet(20, input_shape=(28, 28, 1))
    teacher.compile(keras.optimizers.SGD(0.05, momentum=0.9),
                    keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    teacher.fit(train, epochs=epochs, verbose=2)
    return teacher, f"trained here, {epochs} epochs"


def _run(teacher, train, test, method, epochs, **hparams):
    keras.utils.set_random_seed(1)
    student = kr_keras.models.cifar_resnet(8, width_multiplier=0.75, input_shape=(28, 28, 1))
    distiller = kr_keras.build_distiller(method, teacher, student, **hparams)
    extra = {} if method == "ce" else {
        "auxiliary_optimizer": keras.optimizers.SGD(0.1, momentum=0.9)}
    distiller.compile(optimizer=keras.optimizers.SGD(_LR.value, momentum=0.9),
                      metrics=["accuracy"], **extra)
    distiller.fit(train, epochs=epochs, verbose=0)
    images = next(iter(test))[0]
    features = kr_keras.models.tap(student)(images, training=False)[1:]
    rms = [float(np.sqrt(np.mean(np.square(f)))) for f in features]
    student.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    metrics=["accuracy"])
    accuracy = student.evaluate(test, verbose=0, return_dict=True)["accuracy"]
    return accuracy, rms


def main(argv):
    del argv
    from experiments.lib.io import write_benchmark_report

    examples, epochs, mus = _EXAMPLES.value, _EPOCHS.value, _MU.value
    if _QUICK.value:
        examples, epochs, mus = 512, 1, ["1.0"]
    lines = []

    def emit(line):
        print(line, flush=True)
        lines.append(line)

    train = kr_keras.data.load("fashion_mnist", "train", 128, take=examples)
    test = kr_keras.data.load("fashion_mnist", "test", 256, take=2000)
    teacher, source = _teacher(train, epochs)
    emit(f"fashion_mnist: {examples} training images, {epochs} epochs, first 2000 test "
         f"images; teacher: {source}")
    base_accuracy, base_rms = _run(teacher, train, test, "ce", epochs)
    emit(f"{'run':34s} {'accuracy':>8s} {'acc/alone':>9s}  block-output RMS")
    emit(f"{'student alone':34s} {base_accuracy:8.4f} {1.0:9.3f}  "
         + " ".join(f"{r:.3f}" for r in base_rms))
    for mu in mus:
        for normalization in ("none", "l2"):
            accuracy, rms = _run(teacher, train, test, "kr", epochs, mu=float(mu),
                                 feature_normalization=normalization)
            label = f"kr mu={mu} feature_normalization={normalization}"
            emit(f"{label:34s} {accuracy:8.4f} {accuracy / base_accuracy:9.3f}  "
                 + " ".join(f"{r:.3f}" for r in rms))
    if _OUT.value:
        title = "KR feature scale: raw vs unit-norm matching"
        write_benchmark_report(_OUT.value, title, "benchmarks/kr_feature_scale.py", lines)


if __name__ == "__main__":
    app.run(main)
