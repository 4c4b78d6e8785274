"""Epoch-time overhead of every registered distiller over its parts.

For ResNet-26 -> ResNet-8 on random 32x32x3 arrays (CIFAR shape, 10 classes),
times one `fit` epoch of each method (after a warm-up epoch that traces the
step) and divides it by the student-alone ("ce") `fit` epoch plus one teacher
`predict` epoch on the same data and batch size. KR's goal: <= 1.10. All
ratios are measured side by side in one run.

Usage:

    python benchmarks/distill_overhead.py            # 2048 examples, batch 128
    python benchmarks/distill_overhead.py --quick    # 512 examples
"""

import os
import sys
import time

from absl import app, flags

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

_EXAMPLES = flags.DEFINE_integer("examples", 2048, "Examples per epoch.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 128, "Batch size.")
_REPEATS = flags.DEFINE_integer("repeats", 2, "Timed epochs per measurement (the minimum is kept).")
_QUICK = flags.DEFINE_bool("quick", False, "512 examples, 1 timed epoch.")
_METHODS = flags.DEFINE_list("methods", None, "Methods to time (default: all registered).")


def best_time(fn, repeats):
    fn()  # warm-up: traces the step
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv):
    del argv
    import keras
    import numpy as np

    import kr_keras

    examples, repeats = _EXAMPLES.value, _REPEATS.value
    if _QUICK.value:
        examples, repeats = 512, 1
    batch = _BATCH_SIZE.value
    rng = np.random.default_rng(0)
    x = rng.normal(size=(examples, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, size=examples).astype("int32")

    def models():
        keras.utils.set_random_seed(0)
        return (kr_keras.models.cifar_resnet(26), kr_keras.models.cifar_resnet(8))

    def fit_epoch(method):
        teacher, student = models()
        distiller = kr_keras.build_distiller(method, teacher, student)
        distiller.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9))
        return lambda: distiller.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)

    teacher, _ = models()
    predict = best_time(lambda: teacher.predict(x, batch_size=batch, verbose=0), repeats)
    alone = best_time(fit_epoch("ce"), repeats)
    base = alone + predict
    print(f"examples={examples} batch={batch} repeats={repeats}")
    print(f"teacher predict epoch   {predict:7.2f} s")
    print(f"student alone fit epoch {alone:7.2f} s")
    methods = _METHODS.value or [m for m in kr_keras.distillers.names() if m != "ce"]
    for method in methods:
        seconds = best_time(fit_epoch(method), repeats)
        print(f"{method:<22}  {seconds:7.2f} s   ratio {seconds / base:5.2f}  (goal for kr <= 1.10)")


if __name__ == "__main__":
    app.run(main)
