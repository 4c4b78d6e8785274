"""Throughput of the `kr_keras.data` pipelines against what KR training consumes.

For Fashion-MNIST (real IDX files), a generated `.npz` and mock CIFAR-10
(`tfds.testing.mock_data`), prints the images/s of the training pipeline alone
(shuffle + augmentation + normalisation + batching; N batches after a warm-up),
then the images/s a KR distillation step ResNet-26 -> ResNet-8 consumes (fed
from one fixed batch, so the pipeline is not in the way), and their ratio
(> 1: the pipeline keeps up with training).

Prints its lines and writes them to `results/benchmarks/data_throughput.md`
(`--out`), with the command and the machine.

Usage:

    python benchmarks/data_throughput.py --batches=50 --batch_size=128
    python benchmarks/data_throughput.py --quick   # smoke run: 5 batches, 2 KR steps
"""

import os
import sys
import tempfile
import time

from absl import app, flags

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

_BATCHES = flags.DEFINE_integer("batches", 100, "Batches timed per pipeline (after warm-up).")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 128, "Batch size.")
_WARMUP = flags.DEFINE_integer("warmup", 5, "Warm-up batches (mock CIFAR: one full epoch more, to fill the cache).")
_DISTILL_STEPS = flags.DEFINE_integer("distill_steps", 20, "Timed KR distillation steps (0 to skip).")
_MOCK_EXAMPLES = flags.DEFINE_integer("mock_examples", 2048, "Examples of the mock CIFAR-10 split.")
_QUICK = flags.DEFINE_bool("quick", False, "Smoke run: 5 batches, 1 warm-up batch, at most 2 KR "
                           "steps, 512 mock examples (its numbers are not the documented ones).")
_OUT = flags.DEFINE_string("out", "results/benchmarks/data_throughput.md",
                           "Also write the printed lines here ('' for nowhere).")

LINES = []


def emit(line):
    """Prints `line` and keeps it for the `--out` report."""
    print(line, flush=True)
    LINES.append(line)


def settings():
    """`(batches, warmup, distill_steps, mock_examples)` after `--quick`."""
    if _QUICK.value:
        return 5, 1, min(2, _DISTILL_STEPS.value), 512
    return _BATCHES.value, _WARMUP.value, _DISTILL_STEPS.value, _MOCK_EXAMPLES.value


def pipeline_rate(ds, batches, warmup):
    """Images/s of iterating `batches` batches of `ds.repeat()` after `warmup` batches."""
    it = iter(ds.repeat())
    for _ in range(warmup):
        next(it)
    start, images = time.perf_counter(), 0
    for _ in range(batches):
        x, _ = next(it)
        images += int(x.shape[0])
    return images / (time.perf_counter() - start)


def distill_rate(shape, num_classes, batch_size, steps):
    """Images/s consumed by `KRDistiller.fit` (ResNet-26 -> ResNet-8), or `None` with a note."""
    import keras
    import numpy as np
    import tensorflow as tf

    import kr_keras

    teacher = kr_keras.models.cifar_resnet(depth=26, num_classes=num_classes, input_shape=shape)
    student = kr_keras.models.cifar_resnet(depth=8, num_classes=num_classes, input_shape=shape)
    d = kr_keras.KRDistiller(teacher, student)
    d.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        auxiliary_optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
    )
    rng = np.random.default_rng(0)
    batch = (
        rng.standard_normal((batch_size,) + tuple(shape)).astype("float32"),
        rng.integers(0, num_classes, batch_size).astype("int32"),
    )
    ds = tf.data.Dataset.from_tensors(batch).repeat()
    d.fit(ds, steps_per_epoch=3, epochs=1, verbose=0)  # trace + warm-up
    start = time.perf_counter()
    d.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
    return steps * batch_size / (time.perf_counter() - start)


def report(label, ds, shape, num_classes, warmup):
    batches, _, distill_steps, _ = settings()
    rate = pipeline_rate(ds, batches, warmup)
    emit(f"{label}: pipeline {rate:,.0f} images/s ({batches} batches of {_BATCH_SIZE.value})")
    if distill_steps > 0:
        consumed = distill_rate(shape, num_classes, _BATCH_SIZE.value, distill_steps)
        emit(f"  KR ResNet-26 -> ResNet-8 consumes {consumed:,.0f} images/s; "
             f"pipeline / consumption = {rate / consumed:.1f}")


def main(argv):
    del argv
    import numpy as np
    import tensorflow_datasets as tfds

    import kr_keras

    from experiments.lib.io import write_benchmark_report

    bs = _BATCH_SIZE.value
    _, warmup, _, mock_examples = settings()
    emit(f"cores: {os.cpu_count()}")

    ds = kr_keras.data.load("fashion_mnist", "train", bs, seed=0)
    report("fashion_mnist (IDX, 28x28x1, pad-crop-flip)", ds, (28, 28, 1), 10, warmup)

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.npz")
        rng = np.random.default_rng(0)
        np.savez(
            path,
            x_train=rng.integers(0, 256, (10_000, 32, 32, 3), dtype=np.uint8),
            y_train=rng.integers(0, 10, 10_000),
            x_test=rng.integers(0, 256, (1_000, 32, 32, 3), dtype=np.uint8),
            y_test=rng.integers(0, 10, 1_000),
        )
        ds = kr_keras.data.load(f"npz:{path}", "train", bs, seed=0)
        report("npz (generated, 10k x 32x32x3, pad-crop-flip)", ds, (32, 32, 3), 10, warmup)

    with tfds.testing.mock_data(num_examples=mock_examples):
        epoch = mock_examples // bs
        for name in ("cifar10", "t_cifar100"):
            ds = kr_keras.data.load(name, "train", bs, seed=0)
            classes = 10 if name == "cifar10" else 100
            report(f"{name} (tfds mock, {mock_examples} examples, cached)", ds, (32, 32, 3),
                   classes, warmup + epoch)
    if _OUT.value:
        write_benchmark_report(_OUT.value, "Data pipeline throughput", "benchmarks/data_throughput.py", LINES)


if __name__ == "__main__":
    app.run(main)
