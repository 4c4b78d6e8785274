"""Images/s of a KR distillation step ResNet-26 -> ResNet-8 (32x32x3, 10 classes).

For each batch size, dtype policy and XLA setting, builds the pair, warms the
step up (tracing) and times `--steps` `train_on_batch` calls on one fixed
batch (the input pipeline is not in the way; see data_throughput.py).

Usage:

    python benchmarks/step_time.py                  # batch 128/256/512, float32 + mixed, jit on/off
    python benchmarks/step_time.py --quick          # batch 128, 3 steps
    python benchmarks/step_time.py --batch_sizes=256 --policies=mixed_bfloat16 --jit=true
"""

import os
import sys
import time

from absl import app, flags

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

_BATCH_SIZES = flags.DEFINE_list("batch_sizes", ["128", "256", "512"], "Global batch sizes.")
_POLICIES = flags.DEFINE_list(
    "policies", None,
    "Keras dtype policies (default: float32 and mixed_float16 on a GPU, mixed_bfloat16 on a CPU).")
_JIT = flags.DEFINE_list("jit", ["false", "true"], "jit_compile settings to time.")
_STEPS = flags.DEFINE_integer("steps", 10, "Timed steps per setting.")
_METHOD = flags.DEFINE_string("method", "kr", "Registered method to time.")
_QUICK = flags.DEFINE_bool("quick", False, "Batch 128 only, 3 timed steps.")


def main(argv):
    del argv
    import keras
    import numpy as np
    import tensorflow as tf

    import kr_keras

    gpu = bool(tf.config.list_physical_devices("GPU"))
    policies = _POLICIES.value or ["float32", "mixed_float16" if gpu else "mixed_bfloat16"]
    batch_sizes = [int(b) for b in _BATCH_SIZES.value]
    steps = _STEPS.value
    if _QUICK.value:
        batch_sizes, steps = [128], 3
    print(f"device: {'GPU' if gpu else 'CPU'}; method={_METHOD.value}; steps={steps}")
    print(f"{'batch':>5}  {'policy':<15} {'jit':<5} {'img/s':>8}")
    for batch in batch_sizes:
        rng = np.random.default_rng(0)
        x = rng.normal(size=(batch, 32, 32, 3)).astype("float32")
        y = rng.integers(0, 10, size=batch).astype("int32")
        for policy in policies:
            for jit in _JIT.value:
                keras.mixed_precision.set_global_policy(policy)
                keras.utils.set_random_seed(0)
                distiller = kr_keras.build_distiller(
                    _METHOD.value, kr_keras.models.cifar_resnet(26), kr_keras.models.cifar_resnet(8))
                distiller.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                                  jit_compile=jit.lower() == "true")
                distiller.train_on_batch(x, y)  # traces
                start = time.perf_counter()
                for _ in range(steps):
                    logs = distiller.train_on_batch(x, y, return_dict=True)
                seconds = time.perf_counter() - start
                keras.mixed_precision.set_global_policy("float32")
                finite = all(np.isfinite(v) for v in logs.values())
                print(f"{batch:>5}  {policy:<15} {jit:<5} {batch * steps / seconds:8.0f}"
                      + ("" if finite else "  (non-finite loss!)"))


if __name__ == "__main__":
    app.run(main)
