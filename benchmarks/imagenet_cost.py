"""Cost of the paper's ImageNet KR run, from a measured step.

Times KR steps of ResNet-34 -> ResNet-18 (k = 4, `imagenet_pairing`) on
random 224x224 images on this machine, counts the analytic FLOPs of one
training image (teacher forward + student forward/backward ~ 3x forward +
aggregators), and prints:

* measured images/s here and the implied hours for `--epochs` epochs of
  ILSVRC 2012 (1,281,167 images);
* a GPU estimate: total FLOPs / (`--gpu_tflops` sustained), with the
  sustained rate an explicit assumption (printed), not a measurement;
* peak host memory of the step and its extrapolation to `--gpu_batch`.

It writes the printed lines to `results/benchmarks/imagenet_cost.md`
(`--out`), with the command and the machine.

    PYTHONPATH=. python benchmarks/imagenet_cost.py --batch=8 --steps=3
    PYTHONPATH=. python benchmarks/imagenet_cost.py --quick   # smoke run: batch 2, 1 step
"""

import resource
import time

from absl import app
from absl import flags

_BATCH = flags.DEFINE_integer("batch", 8, "Batch timed here.")
_STEPS = flags.DEFINE_integer("steps", 3, "Timed steps after one warm-up step.")
_EPOCHS = flags.DEFINE_integer("epochs", 90, "Epochs of the full run.")
_GPU_TFLOPS = flags.DEFINE_float(
    "gpu_tflops", 50.0,
    "Assumed sustained TFLOP/s of one GPU for this mixed-precision conv net. "
    "50 for an H100 running Keras: MLPerf's tuned ResNet-50 reaches about "
    "3,000 img/s per H100, i.e. ~75 TFLOP/s; an untuned Keras input pipeline "
    "and step sit below that.")
_GPU_BATCH = flags.DEFINE_integer("gpu_batch", 256, "Global batch of the GPU run.")
_QUICK = flags.DEFINE_bool("quick", False, "Smoke run: batch 2, 1 timed step (its numbers are "
                           "not the documented ones).")
_OUT = flags.DEFINE_string("out", "results/benchmarks/imagenet_cost.md",
                           "Also write the printed lines here ('' for nowhere).")

IMAGENET_TRAIN = 1_281_167


def main(argv):
    del argv
    import keras
    import numpy as np

    import kr_keras
    from experiments.lib.evaluation import count_flops
    from experiments.lib.io import write_benchmark_report

    batch, steps = (2, 1) if _QUICK.value else (_BATCH.value, _STEPS.value)
    lines = []

    def emit(line):
        print(line, flush=True)
        lines.append(line)

    keras.utils.set_random_seed(0)
    teacher = kr_keras.models.imagenet_resnet(34)
    student = kr_keras.models.imagenet_resnet(18)
    pairing = kr_keras.models.imagenet_pairing(teacher, student, group_size=4)
    distiller = kr_keras.KRDistiller(teacher, student, **pairing)
    distiller.compile(optimizer=keras.optimizers.SGD(0.005, momentum=0.9),
                      auxiliary_optimizer=keras.optimizers.SGD(0.1, momentum=0.9))
    x = np.random.default_rng(0).normal(size=(batch, 224, 224, 3)).astype("float32")
    y = np.random.default_rng(1).integers(0, 1000, batch)
    rss_built = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    distiller.train_on_batch(x, y)  # trace
    start = time.perf_counter()
    for _ in range(steps):
        distiller.train_on_batch(x, y)
    seconds = (time.perf_counter() - start) / steps
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    images_per_s = batch / seconds

    teacher_flops, student_flops = count_flops(teacher), count_flops(student)
    per_image = teacher_flops + 3 * student_flops
    total = per_image * IMAGENET_TRAIN * _EPOCHS.value
    step_mib = max(rss_peak - rss_built, 0.0)
    emit(f"ResNet-34 -> ResNet-18 KR step, batch {batch}: {seconds:.2f} s/step, "
         f"{images_per_s:.1f} img/s on this machine")
    emit(f"forward FLOPs/image: teacher {teacher_flops / 1e9:.2f} G, student "
         f"{student_flops / 1e9:.2f} G; training FLOPs/image ~ {per_image / 1e9:.2f} G")
    emit(f"{_EPOCHS.value} epochs of ILSVRC 2012 here: "
         f"{IMAGENET_TRAIN * _EPOCHS.value / images_per_s / 3600:,.0f} hours")
    emit(f"GPU estimate at an assumed {_GPU_TFLOPS.value:.0f} TFLOP/s sustained: "
         f"{total / (_GPU_TFLOPS.value * 1e12) / 3600:,.1f} GPU-hours "
         f"({total / 1e18:.1f} EFLOP)")
    emit(f"peak host memory of the step at batch {batch}: {step_mib:,.0f} MiB over the "
         f"built models; x{_GPU_BATCH.value // batch} for batch {_GPU_BATCH.value}: "
         f"~{step_mib * _GPU_BATCH.value / batch / 1024:,.1f} GiB of activations "
         "(float32; about half under mixed precision)")
    if _OUT.value:
        write_benchmark_report(_OUT.value, "ImageNet KR cost", "benchmarks/imagenet_cost.py", lines)


if __name__ == "__main__":
    app.run(main)
