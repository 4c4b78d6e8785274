"""Distils a student from a trained teacher with any registered method.

Presets (`--preset`) hold the paper's recipes as data
(kr_keras/experiment/config.py); every flag left unset keeps the preset's
value. Multi-worker: run the same command on every worker with
`--strategy=multi_worker` and a per-worker `TF_CONFIG` (docs/experiments.md).

Example:
  python -m experiments.distill --method=kr --preset=fashion_mnist \
      --teacher=saved_models/teacher_fmnist.keras --output=saved_models/student.keras
"""

from absl import app, flags

from kr_keras import distillers
from kr_keras.experiment import PRESETS, distill, preset
from kr_keras.experiment.cli import log_dir, present, user_errors
from kr_keras.distribute import STRATEGIES
from kr_keras.experiment.taps import ARCHITECTURES

_METHOD = flags.DEFINE_enum("method", "kr", distillers.names(), "Distillation method (registry).")
_PRESET = flags.DEFINE_enum("preset", "fashion_mnist", sorted(PRESETS), "Recipe to start from.")
_TEACHER = flags.DEFINE_string("teacher", None, "Trained teacher (.keras).")
_DATASET = flags.DEFINE_string("dataset", None, "kr_keras.data dataset (default: the preset's).")
_STUDENT_ARCH = flags.DEFINE_enum("student_arch", None, sorted(ARCHITECTURES),
                                  "Student family (builder and KR tap rule); the preset's by default.")
_STUDENT_DEPTH = flags.DEFINE_integer("student_depth", None, "Student depth (6n+2 CIFAR; 18/34/50 ImageNet).")
_STUDENT_WIDTH = flags.DEFINE_float("student_width", None, "Student width multiplier.")
_EPOCHS = flags.DEFINE_integer("epochs", None, "Training epochs.")
_STEPS = flags.DEFINE_integer("steps", None, "Total steps (overrides --epochs; whole epochs).")
_STEPS_PER_EPOCH = flags.DEFINE_integer("steps_per_epoch", None, "Steps per epoch.")
_BATCH = flags.DEFINE_integer("batch_size", None, "Global batch size.")
_SEED = flags.DEFINE_integer("seed", None, "Seed.")
_TRAIN_TAKE = flags.DEFINE_integer("train_take", None, "Use the first N training images.")
_EVAL_TAKE = flags.DEFINE_integer("eval_take", None, "Evaluate on the first N test images.")
_MU = flags.DEFINE_float("mu", None, "KR: weight of the prior (SRP) term, Eq. 10.")
_GAMMA = flags.DEFINE_float("gamma", None, "KR: transport weight of Eq. 9.")
_GROUP_SIZE = flags.DEFINE_integer("group_size", None, "KR: teacher taps per student tap (k).")
_BOOST = flags.DEFINE_float("boost", None, "KR: SRP gradient multiplier beyond tau.")
_FLOOR = flags.DEFINE_float("floor", None, "KR: SRP gradient multiplier within tau.")
_TARGET_INACTIVE = flags.DEFINE_float("target_inactive", None, "KR: fraction SRP keeps inactive.")
_STUDENT_LR = flags.DEFINE_float("student_lr", None, "Initial student learning rate.")
_KNOWLEDGE_LR = flags.DEFINE_float("knowledge_lr", None, "Initial auxiliary (Eq. 9) learning rate.")
_WD = flags.DEFINE_float("weight_decay", None, "Weight decay of both optimizers.")
_MOMENTUM = flags.DEFINE_float("momentum", None, "SGD momentum of both optimizers.")
_STRATEGY = flags.DEFINE_enum("strategy", "default", list(STRATEGIES), "tf.distribute strategy.")
_MIXED = flags.DEFINE_bool("mixed_precision", False, "mixed_float16 policy.")
_JIT = flags.DEFINE_bool("jit_compile", False, "XLA-compile the train step.")
_CHECKPOINT_DIR = flags.DEFINE_string("checkpoint_dir", None, "Resumable checkpoints.")
_SAVE_EVERY = flags.DEFINE_integer("save_every_steps", None, "Checkpoint period in steps.")
_DETERMINISTIC = flags.DEFINE_bool("deterministic", False, "TF op determinism (bit-identical reruns).")
_CHECK_NUMERICS = flags.DEFINE_bool("check_numerics", False, "Fail on NaN/Inf images.")
_OUTPUT = flags.DEFINE_string("output", "saved_models/student.keras", "Output student (.keras).")

HPARAM_FLAGS = ("mu", "gamma", "group_size", "boost", "floor", "target_inactive")


@user_errors
def main(argv):
    del argv
    config = preset(_PRESET.value).with_overrides(
        method=_METHOD.value, teacher=_TEACHER.value or "", dataset=_DATASET.value,
        student_arch=_STUDENT_ARCH.value, student_depth=_STUDENT_DEPTH.value, student_width=_STUDENT_WIDTH.value,
        epochs=_EPOCHS.value, steps=_STEPS.value, steps_per_epoch=_STEPS_PER_EPOCH.value,
        batch_size=_BATCH.value, seed=_SEED.value, train_take=_TRAIN_TAKE.value,
        eval_take=_EVAL_TAKE.value,
        hparams={name: flags.FLAGS[name].value for name in HPARAM_FLAGS},
        student_lr=_STUDENT_LR.value, knowledge_lr=_KNOWLEDGE_LR.value,
        weight_decay=_WD.value, momentum=_MOMENTUM.value, strategy=_STRATEGY.value,
        mixed_precision=_MIXED.value, jit_compile=_JIT.value, log_dir=log_dir(),
        checkpoint_dir=_CHECKPOINT_DIR.value, save_every_steps=_SAVE_EVERY.value,
        deterministic=_DETERMINISTIC.value, check_numerics=_CHECK_NUMERICS.value,
        output=_OUTPUT.value)
    result = distill(config, explicit=present(flags.FLAGS, HPARAM_FLAGS))
    print(f"student: {result['output']} test accuracy {result['test']['accuracy']:.4f} "
          f"params {result['params']}")


def run():
    """Entry point of the `kr-distill` console script."""
    from experiments import _console

    _console.run(main, __name__)


if __name__ == "__main__":
    app.run(main)
