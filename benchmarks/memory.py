"""Peak host memory of a distillation step relative to a student-alone step.

Each method runs in its own subprocess (ResNet-26 -> ResNet-8, 32x32x3,
random data): the process builds the pair, records its resident memory
(VmRSS), runs `--steps` `train_on_batch` calls and records its peak resident
memory (VmHWM). The step memory is peak - built; the script prints it per
method and its ratio to the student-alone ("ce") step. On a GPU it also
prints the peak GPU memory from `tf.config.experimental.get_memory_info`.
The printed lines are also written to `results/benchmarks/memory.md`
(`--out`), with the command and the machine.

Usage:

    python benchmarks/memory.py              # batch 256, 5 steps, every method
    python benchmarks/memory.py --quick      # batch 128, 2 steps, ce and kr
"""

import json
import os
import subprocess
import sys

from absl import app, flags

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

_BATCH_SIZE = flags.DEFINE_integer("batch_size", 256, "Batch size.")
_STEPS = flags.DEFINE_integer("steps", 5, "Steps after the measurement of the built models.")
_METHODS = flags.DEFINE_list("methods", None, "Methods (default: all registered; ce first).")
_QUICK = flags.DEFINE_bool("quick", False, "Batch 128, 2 steps, methods ce and kr.")
_CHILD = flags.DEFINE_string("child", None, "Internal: run one method and print JSON.")
_OUT = flags.DEFINE_string("out", "results/benchmarks/memory.md",
                           "Also write the printed lines here ('' for nowhere).")


def status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def child(method, batch, steps):
    import keras
    import numpy as np
    import tensorflow as tf

    import kr_keras

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, size=batch).astype("int32")
    distiller = kr_keras.build_distiller(
        method, kr_keras.models.cifar_resnet(26), kr_keras.models.cifar_resnet(8))
    distiller.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9))
    built = status_kib("VmRSS")
    for _ in range(steps):
        distiller.train_on_batch(x, y)
    result = {"built_mib": built / 1024, "peak_mib": status_kib("VmHWM") / 1024}
    if tf.config.list_physical_devices("GPU"):
        result["gpu_peak_mib"] = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    print("RESULT " + json.dumps(result))


def main(argv):
    del argv
    batch, steps = _BATCH_SIZE.value, _STEPS.value
    if _CHILD.value:
        child(_CHILD.value, batch, steps)
        return
    import kr_keras
    from experiments.lib.io import write_benchmark_report

    lines = []

    def emit(line):
        print(line, flush=True)
        lines.append(line)

    methods = _METHODS.value or kr_keras.distillers.names()
    if _QUICK.value:
        batch, steps, methods = 128, 2, ["ce", "kr"]
    methods = ["ce"] + [m for m in methods if m != "ce"]
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    emit(f"batch={batch} steps={steps}")
    base = None
    for method in methods:
        out = subprocess.run(
            [sys.executable, __file__, f"--child={method}", f"--batch_size={batch}", f"--steps={steps}"],
            env=env, capture_output=True, text=True, check=True).stdout
        result = json.loads(out.split("RESULT ", 1)[1])
        step = result["peak_mib"] - result["built_mib"]
        base = base or step
        line = (f"{method:<22} built {result['built_mib']:7.0f} MiB  peak {result['peak_mib']:7.0f} MiB  "
                f"step {step:6.0f} MiB  ratio {step / base:5.2f}")
        if "gpu_peak_mib" in result:
            line += f"  GPU peak {result['gpu_peak_mib']:7.0f} MiB"
        emit(line)
    if _OUT.value:
        write_benchmark_report(_OUT.value, "Peak memory of a distillation step", "benchmarks/memory.py", lines)


if __name__ == "__main__":
    app.run(main)
