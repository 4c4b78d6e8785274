"""Images/s of distillation steps ResNet-26 -> ResNet-8 (32x32x3, 10 classes).

For each method, batch size, dtype policy and XLA setting, builds the pair,
warms the step up (tracing) and times `--steps` `train_on_batch` calls on one
fixed batch (the input pipeline is not in the way; see data_throughput.py).
The timing code is `step_timing.py`, shared with `gpu_check.py`.

Usage:

    python benchmarks/step_time.py                  # kr; batch 128/256/512, float32 + mixed, jit on/off
    python benchmarks/step_time.py --quick          # batch 128, 3 steps
    python benchmarks/step_time.py --methods=ce,kd,kr,kr+kd --batch_sizes=512 --jit=true
"""

import os
import sys

from absl import app, flags

import step_timing

_BATCH_SIZES = flags.DEFINE_list("batch_sizes", ["128", "256", "512"], "Global batch sizes.")
_POLICIES = flags.DEFINE_list(
    "policies", None,
    "Keras dtype policies (default: float32 and mixed_float16 on a GPU, mixed_bfloat16 on a CPU).")
_JIT = flags.DEFINE_list("jit", ["false", "true"], "jit_compile settings to time.")
_STEPS = flags.DEFINE_integer("steps", 10, "Timed steps per setting.")
_METHODS = flags.DEFINE_list("methods", ["kr"], "Registered methods to time.")
_QUICK = flags.DEFINE_bool("quick", False, "Batch 128 only, 3 timed steps.")
_OUT = flags.DEFINE_string("out", "results/benchmarks/step_time.md",
                           "Where the printed lines are also written (with the command).")


def main(argv):
    del argv
    import tensorflow as tf

    gpu = bool(tf.config.list_physical_devices("GPU"))
    policies = _POLICIES.value or ["float32", "mixed_float16" if gpu else "mixed_bfloat16"]
    batch_sizes = [int(b) for b in _BATCH_SIZES.value]
    steps = _STEPS.value
    if _QUICK.value:
        batch_sizes, steps = [128], 3
    lines = []

    def say(line):
        print(line, flush=True)
        lines.append(line)

    say(f"device: {'GPU' if gpu else 'CPU'} ({os.cpu_count()} logical cores, load average "
        f"{os.getloadavg()[0]:.2f}); TensorFlow {tf.__version__}; steps={steps}")
    say(f"{'method':<8} {'batch':>5}  {'policy':<15} {'jit':<5} {'img/s':>8}")
    for method in _METHODS.value:
        for batch in batch_sizes:
            for policy in policies:
                for jit in _JIT.value:
                    rate, finite = step_timing.images_per_second(
                        method, batch, policy, jit.lower() == "true", steps=steps)
                    say(f"{method:<8} {batch:>5}  {policy:<15} {jit:<5} {rate:8.0f}"
                        + ("" if finite else "  (non-finite loss!)"))
    if _OUT.value:
        os.makedirs(os.path.dirname(_OUT.value) or ".", exist_ok=True)
        command = "python benchmarks/step_time.py " + " ".join(sys.argv[1:])
        with open(_OUT.value, "w") as f:
            f.write("# Distillation step img/s (ResNet-26 -> ResNet-8, 32x32x3)\n\n"
                    f"Command: `{command.strip()}`\n\n```\n" + "\n".join(lines) + "\n```\n")
        print(f"wrote {_OUT.value}")


if __name__ == "__main__":
    app.run(main)
