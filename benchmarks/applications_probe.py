"""Every method on users' own models: keras.applications teacher -> student
pairs (weights=None, random images), each distiller built with the method's
defaults, `compile(optimizer=SGD(lr), auxiliary_optimizer=SGD(lr))`, `fit`
for a few steps and `evaluate`. One line per pair and method: `ok` with the
last training loss and the evaluation loss, `nonfinite` when either is not
finite, or `error` with the exception's first line. Writes the lines to
`results/benchmarks/applications_probe.md` (`--out`) with the command.

A compatibility probe, not a timing: the full grid (9 pairs x 21 methods)
takes hours on 2 CPU cores; pick pairs and methods with the flags.

    PYTHONPATH=. python benchmarks/applications_probe.py --pairs=nasnet_mobile,xception --methods=dkd,sp --lr=0.01,0.001
    PYTHONPATH=. python benchmarks/applications_probe.py --pairs=sequential --methods=kd,at   # smoke run
"""

import math

import keras
import numpy as np
from absl import app
from absl import flags

from kr_keras.distillers import build_distiller
from kr_keras.distillers import names


def _sequential(width, name):
    return keras.Sequential([
        keras.Input((32, 32, 3)),
        keras.layers.Conv2D(width, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(2 * width, 3, padding="same", activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(10)], name=name)


def _apps(size=32):
    return dict(weights=None, classes=10, classifier_activation=None, input_shape=(size, size, 3))


# name -> (image side, builder of (teacher, student)).
PAIRS = {
    "sequential": (32, lambda: (_sequential(16, "teacher"), _sequential(8, "student"))),
    "resnet50": (32, lambda: (keras.applications.ResNet50(**_apps()),
                              keras.applications.MobileNetV2(alpha=0.35, **_apps()))),
    "vgg16": (32, lambda: (keras.applications.VGG16(**_apps()),
                           keras.applications.MobileNet(alpha=0.25, **_apps()))),
    "convnext_tiny": (32, lambda: (
        keras.applications.ConvNeXtTiny(include_preprocessing=False, **_apps()),
        keras.applications.EfficientNetV2B0(include_preprocessing=False, **_apps()))),
    "nasnet_mobile": (32, lambda: (
        keras.applications.NASNetMobile(**_apps()),
        keras.applications.MobileNetV3Large(include_preprocessing=False, **_apps()))),
    "inception_v3": (75, lambda: (keras.applications.InceptionV3(**_apps(75)),
                                  keras.applications.MobileNetV2(alpha=0.35, **_apps(75)))),
    "xception": (75, lambda: (keras.applications.Xception(**_apps(75)),
                              keras.applications.ResNet50(**_apps(75)))),
}

_PAIRS = flags.DEFINE_list("pairs", ["resnet50"], f"Pairs to probe, of {sorted(PAIRS)}.")
_METHODS = flags.DEFINE_list("methods", None, "Registry methods (default: all).")
_LRS = flags.DEFINE_list("lr", ["0.01"], "SGD learning rates of both optimizers, each probed "
                        "(0.01: Keras' 'sgd').")
_STEPS = flags.DEFINE_integer("steps", 4, "Training steps, in epochs of 2 batches of 4 images "
                               "(an odd count is rounded down).", lower_bound=2)
_OUT = flags.DEFINE_string("out", "results/benchmarks/applications_probe.md",
                           "Also write the printed lines here ('' for nowhere).")


def probe(pair, method, lr, steps):
    """`(status, detail)` of one method on one pair."""
    side, make = PAIRS[pair]
    keras.backend.clear_session()  # one process probes many large models
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((8, side, side, 3), dtype=np.float32)
    y = rng.integers(0, 10, 8)
    teacher, student = make()
    try:
        distiller = build_distiller(method, teacher, student)
        distiller.compile(optimizer=keras.optimizers.SGD(lr),
                          auxiliary_optimizer=keras.optimizers.SGD(lr))
        history = distiller.fit(x, y, batch_size=4, epochs=steps // 2, verbose=0)
        evaluation = distiller.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    except Exception as error:  # a probe reports every failure and goes on
        return "error", f"{type(error).__name__}: {str(error).strip().splitlines()[0][:200]}"
    loss, eval_loss = history.history["loss"][-1], evaluation["loss"]
    status = "ok" if math.isfinite(loss) and math.isfinite(eval_loss) else "nonfinite"
    return status, f"loss {loss:.3f}, eval loss {eval_loss:.3f}"


def main(argv):
    del argv
    unknown = sorted(set(_PAIRS.value) - set(PAIRS))
    if unknown:
        raise app.UsageError(f"Unknown pairs {unknown}; known: {sorted(PAIRS)}")
    methods = _METHODS.value or names()
    lines = [f"{_STEPS.value // 2 * 2} SGD steps on batches of 4 random images, then evaluate"]
    print(lines[0], flush=True)
    for pair in _PAIRS.value:
        for method in methods:
            for lr in map(float, _LRS.value):
                status, detail = probe(pair, method, lr, _STEPS.value)
                lines.append(f"{pair:14s} {method:10s} lr {lr:<6g} {status:9s} {detail}")
                print(lines[-1], flush=True)
    if _OUT.value:
        from experiments.lib.io import write_benchmark_report

        write_benchmark_report(_OUT.value, "Methods on keras.applications pairs",
                               "benchmarks/applications_probe.py", lines)


if __name__ == "__main__":
    app.run(main)
