"""Timing of distillation training steps, shared by the step benchmarks.

`step_time.py`, `step_ratio.py` and `gpu_check.py` build a compiled
distiller for a CIFAR ResNet pair with `build_compiled`, feed it one fixed
batch (`random_batch`, kept on the default device so the input pipeline is
out of the way) and time `train_on_batch` calls with `time_steps`; every
call returns its losses as Python floats, so each timed step has finished
on the device before the clock reads.

Not a benchmark itself: import it from a script in this directory.
"""

import contextlib
import gc
import math
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


@contextlib.contextmanager
def policy_scope(policy):
    """Sets the global Keras dtype policy inside the block, float32 after."""
    import keras

    keras.mixed_precision.set_global_policy(policy)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")


def random_batch(batch, input_shape=(32, 32, 3), classes=10, seed=0):
    """One fixed batch `(x, y)` of seeded normal images and integer labels,
    as tensors on TensorFlow's default device."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, *input_shape)).astype("float32")
    y = rng.integers(0, classes, size=batch).astype("int32")
    return tf.constant(x), tf.constant(y)


def build_compiled(method, teacher_depth, student_depth, jit=False, width=1.0,
                   input_shape=(32, 32, 3), classes=10, seed=0, **hparams):
    """A compiled distiller `method`: CIFAR ResNet-`teacher_depth` ->
    ResNet-`student_depth` (both scaled by `width`), SGD(0.01, momentum 0.9).

    Build it inside `policy_scope(policy)` for a mixed-precision step.
    """
    import keras

    import kr_keras

    keras.utils.set_random_seed(seed)
    kwargs = dict(width_multiplier=width, input_shape=input_shape, num_classes=classes)
    teacher = kr_keras.models.cifar_resnet(teacher_depth, **kwargs)
    student = kr_keras.models.cifar_resnet(student_depth, **kwargs)
    distiller = kr_keras.build_distiller(method, teacher, student, **hparams)
    distiller.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), jit_compile=jit)
    return distiller


def time_steps(distiller, x, y, steps):
    """Seconds taken by `steps` `train_on_batch` calls, and the last logs."""
    start = time.perf_counter()
    logs = {}
    for _ in range(steps):
        logs = distiller.train_on_batch(x, y, return_dict=True)
    return time.perf_counter() - start, logs


def finite(logs):
    """Whether every logged value is a finite number."""
    return all(math.isfinite(float(v)) for v in logs.values())


def images_per_second(method, batch, policy="float32", jit=False, steps=10, warmup=2,
                      teacher_depth=26, student_depth=8, width=1.0,
                      input_shape=(32, 32, 3), classes=10):
    """Builds, warms up (traces) and times one setting.

    Returns:
        `(images_per_second, finite_losses)`.
    """
    import keras

    x, y = random_batch(batch, input_shape, classes)
    with policy_scope(policy):
        distiller = build_compiled(method, teacher_depth, student_depth, jit=jit,
                                   width=width, input_shape=input_shape, classes=classes)
        time_steps(distiller, x, y, warmup)
        seconds, logs = time_steps(distiller, x, y, steps)
    del distiller
    keras.backend.clear_session()
    gc.collect()
    return batch * steps / seconds, finite(logs)


# Op types by what they do; a CPU's kernel variants (oneDNN's `_MklMatMul`,
# `_MklNativeConv2D`, grappler's `_FusedMatMul`) fall with their plain op.
_KINDS = {"matrix products": ("MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3",
                              "Einsum"),
          "convolutions": ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter",
                           "DepthwiseConv2dNative")}


def op_kind(kind):
    """`kind` without a kernel variant's prefix, named by what it does where
    `_KINDS` lists it.

    >>> op_kind("_MklMatMul"), op_kind("MatMul"), op_kind("Mul")
    ('matrix products', 'matrix products', 'Mul')
    """
    plain = re.sub(r"^_(MklNative|Mkl|OneDnn|Fused)", "", kind)
    return next((name for name, kinds in _KINDS.items() if plain in kinds), plain)


def write_report(path, lines):
    """Writes a benchmark's Markdown `lines` to `path` (its folder made) and prints them."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
