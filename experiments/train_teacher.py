"""Trains a CIFAR ResNet teacher and writes it as `.keras`.

Example:
  python -m experiments.train_teacher --dataset=fashion_mnist --depth=20 \
      --epochs=15 --output=saved_models/teacher_fmnist.keras
"""

from absl import app, flags

from experiments.lib import TeacherConfig, train_teacher
from experiments.lib.cli import log_dir, require_positive, user_errors
from experiments.lib.taps import ARCHITECTURES

_DATASET = flags.DEFINE_string("dataset", "fashion_mnist", "kr_keras.data dataset name.")
_ARCH = flags.DEFINE_enum("arch", "cifar_resnet", sorted(ARCHITECTURES), "Model family.")
_DEPTH = flags.DEFINE_integer("depth", 20, "ResNet depth: 6n+2 (8, 14, 20, 26, 32, ...) for "
                              "cifar_resnet; 18, 34 or 50 for imagenet_resnet.", lower_bound=1)
_WIDTH = flags.DEFINE_float("width_multiplier", 1.0, "Filter-count multiplier (> 0).")
_EPOCHS = flags.DEFINE_integer("epochs", 10, "Training epochs.", lower_bound=1)
_STEPS_PER_EPOCH = flags.DEFINE_integer("steps_per_epoch", None, "Steps per epoch (default: one pass).",
                                        lower_bound=1)
_BATCH = flags.DEFINE_integer("batch_size", 128, "Batch size.", lower_bound=1)
_LR = flags.DEFINE_float("lr", 0.1, "Initial SGD learning rate (> 0).")
_SCHEDULE = flags.DEFINE_enum("lr_schedule", "cosine", ["constant", "step", "cosine"],
                              "Learning-rate schedule (step: x0.1 at 50% and 75%).")
_WD = flags.DEFINE_float("weight_decay", 5e-4, "Decoupled weight decay (Keras SGD subtracts "
    "lr*wd*w each step, outside the momentum); RepDistiller's coupled 5e-4 with momentum 0.9 "
    "corresponds to 5e-3 here.", lower_bound=0.0)
_SEED = flags.DEFINE_integer("seed", 0, "Seed of weights, data order and augmentation.",
                             lower_bound=0)
_PRECISE_BN = flags.DEFINE_integer(
    "precise_bn_samples", 2048, "Re-estimate the batch-norm statistics on this many training "
    "images before every validation and the test evaluation (precise BN; 0 = off).",
    lower_bound=0)
_TRAIN_TAKE = flags.DEFINE_integer("train_take", None, "Use the first N training images.",
                                   lower_bound=1)
_EVAL_TAKE = flags.DEFINE_integer("eval_take", None, "Evaluate on the first N images of the "
                                  "evaluation split (test; validation for imagenet2012).",
                                  lower_bound=1)
_DETERMINISTIC = flags.DEFINE_bool("deterministic", False, "TF op determinism (bit-identical reruns).")
_CHECK_NUMERICS = flags.DEFINE_bool("check_numerics", False, "Fail on NaN/Inf images.")
_CHECKPOINT_DIR = flags.DEFINE_string("checkpoint_dir", None, "Resumable checkpoints.")
_SAVE_EVERY = flags.DEFINE_integer("save_every_steps", 500, "Checkpoint period in steps.",
                                   lower_bound=1)
_OUTPUT = flags.DEFINE_string("output", "saved_models/teacher.keras", "Output .keras path.")
require_positive(_WIDTH, _LR)


@user_errors
def main(argv):
    del argv
    result = train_teacher(TeacherConfig(
        dataset=_DATASET.value, arch=_ARCH.value, depth=_DEPTH.value, width_multiplier=_WIDTH.value,
        epochs=_EPOCHS.value, steps_per_epoch=_STEPS_PER_EPOCH.value, batch_size=_BATCH.value,
        lr=_LR.value, lr_schedule=_SCHEDULE.value, weight_decay=_WD.value, seed=_SEED.value,
        precise_bn_samples=_PRECISE_BN.value,
        train_take=_TRAIN_TAKE.value, eval_take=_EVAL_TAKE.value,
        deterministic=_DETERMINISTIC.value, check_numerics=_CHECK_NUMERICS.value,
        log_dir=log_dir(), checkpoint_dir=_CHECKPOINT_DIR.value,
        save_every_steps=_SAVE_EVERY.value, output=_OUTPUT.value))
    print(f"teacher: {result['output']} test accuracy {result['test']['accuracy']:.4f} "
          f"params {result['params']} precise_bn_samples {result['precise_bn_samples']}")


def run():
    """Entry point of the `kr-train-teacher` console script."""
    from experiments import _console

    _console.run(main, __name__)


if __name__ == "__main__":
    app.run(main)
