"""KR's prior term side by side: student alone vs KR with raw or unit-norm
matching. Prints test accuracy and the RMS of the student's tapped block
outputs (the raw reading lets the student shrink them; docs/method.md).

    PYTHONPATH=. python benchmarks/kr_feature_scale.py --train_examples=12000 --epochs=3
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
_TEACHER = flags.DEFINE_string("teacher", "saved_models/demo_teacher.keras",
                               "Teacher (.keras); trained for 3 epochs if missing.")
_LR = flags.DEFINE_float("lr", 0.05, "Student SGD learning rate.")


def _teacher(train):
    if os.path.exists(_TEACHER.value):
        return keras.models.load_model(_TEACHER.value)
    teacher = kr_keras.models.cifar_resnet(20, input_shape=(28, 28, 1))
    teacher.compile(keras.optimizers.SGD(0.05, momentum=0.9),
                    keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    teacher.fit(train, epochs=3, verbose=2)
    return teacher


def _run(teacher, train, test, method, **hparams):
    keras.utils.set_random_seed(1)
    student = kr_keras.models.cifar_resnet(8, width_multiplier=0.75, input_shape=(28, 28, 1))
    distiller = kr_keras.build_distiller(method, teacher, student, **hparams)
    extra = {} if method == "ce" else {
        "auxiliary_optimizer": keras.optimizers.SGD(0.1, momentum=0.9)}
    distiller.compile(optimizer=keras.optimizers.SGD(_LR.value, momentum=0.9),
                      metrics=["accuracy"], **extra)
    distiller.fit(train, epochs=_EPOCHS.value, verbose=0)
    images = next(iter(test))[0]
    features = kr_keras.models.tap(student)(images, training=False)[1:]
    rms = [float(np.sqrt(np.mean(np.square(f)))) for f in features]
    student.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    metrics=["accuracy"])
    accuracy = student.evaluate(test, verbose=0, return_dict=True)["accuracy"]
    return accuracy, rms


def main(argv):
    del argv
    train = kr_keras.data.load("fashion_mnist", "train", 128, take=_EXAMPLES.value)
    test = kr_keras.data.load("fashion_mnist", "test", 256, take=2000)
    teacher = _teacher(train)
    base_accuracy, base_rms = _run(teacher, train, test, "ce")
    print(f"{'run':34s} {'accuracy':>8s} {'acc/alone':>9s}  block-output RMS")
    print(f"{'student alone':34s} {base_accuracy:8.4f} {1.0:9.3f}  "
          + " ".join(f"{r:.3f}" for r in base_rms))
    for mu in _MU.value:
        for normalization in ("none", "l2"):
            accuracy, rms = _run(teacher, train, test, "kr", mu=float(mu),
                                 feature_normalization=normalization)
            label = f"kr mu={mu} feature_normalization={normalization}"
            print(f"{label:34s} {accuracy:8.4f} {accuracy / base_accuracy:9.3f}  "
                  + " ".join(f"{r:.3f}" for r in rms), flush=True)


if __name__ == "__main__":
    app.run(main)
