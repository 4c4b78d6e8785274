"""Distils a student from a trained teacher with any registered method.

Presets (`--preset`) hold the paper's recipes as data
(experiments/lib/config.py); every flag left unset keeps the preset's
value. Multi-worker: run the same command on every worker with
`--strategy=multi_worker` and a per-worker `TF_CONFIG` (docs/experiments.md).

Example:
  python -m experiments.distill --method=kr --preset=fashion_mnist \
      --teacher=saved_models/teacher_fmnist.keras --output=saved_models/student.keras
"""

from absl import app, flags

from kr_keras import distillers
from experiments.lib import PRESETS, distill, preset
from experiments.lib.cli import log_dir, present, require_positive, user_errors
from kr_keras.distribute import STRATEGIES
from experiments.lib.taps import ARCHITECTURES

_METHOD = flags.DEFINE_enum("method", "kr", distillers.names(), "Distillation method (registry).")
_PRESET = flags.DEFINE_enum("preset", "fashion_mnist", sorted(PRESETS), "Recipe to start from.")
_TEACHER = flags.DEFINE_string("teacher", None, "Trained teacher (.keras).")
_DATASET = flags.DEFINE_string("dataset", None, "kr_keras.data dataset (default: the preset's).")
_STUDENT_ARCH = flags.DEFINE_enum("student_arch", None, sorted(ARCHITECTURES),
                                  "Student family (builder and KR tap rule); the preset's by default.")
_STUDENT_DEPTH = flags.DEFINE_integer("student_depth", None, "Student depth (6n+2 CIFAR; 18/34/50 ImageNet).",
                                      lower_bound=1)
_STUDENT_WIDTH = flags.DEFINE_float("student_width", None, "Student width multiplier (> 0).")
_EPOCHS = flags.DEFINE_integer("epochs", None, "Training epochs.", lower_bound=1)
_STEPS = flags.DEFINE_integer("steps", None, "Total steps (overrides --epochs; whole epochs).",
                              lower_bound=1)
_STEPS_PER_EPOCH = flags.DEFINE_integer("steps_per_epoch", None, "Steps per epoch.", lower_bound=1)
_BATCH = flags.DEFINE_integer("batch_size", None, "Global batch size.", lower_bound=1)
_SEED = flags.DEFINE_integer("seed", None, "Seed.", lower_bound=0)
_PRECISE_BN = flags.DEFINE_integer(
    "precise_bn_samples", None, "Re-estimate the student's batch-norm statistics on this many "
    "training images before every validation and the test evaluation (precise BN; 0 = off; "
    "default: the preset's, 2048).", lower_bound=0)
_TRAIN_TAKE = flags.DEFINE_integer("train_take", None, "Use the first N training images.",
                                   lower_bound=1)
_EVAL_TAKE = flags.DEFINE_integer("eval_take", None, "Evaluate on the first N images of the "
                                  "evaluation split (test; validation for imagenet2012).",
                                  lower_bound=1)
_MU = flags.DEFINE_float("mu", None, "KR: weight of the prior (SRP) term, Eq. 10.", lower_bound=0.0)
_GAMMA = flags.DEFINE_float("gamma", None, "KR: transport weight of Eq. 9.", lower_bound=0.0)
_GROUP_SIZE = flags.DEFINE_integer("group_size", None, "KR: teacher taps per student tap (k).",
                                   lower_bound=1)
_BOOST = flags.DEFINE_float("boost", None, "KR: SRP gradient multiplier beyond tau.", lower_bound=0.0)
_FLOOR = flags.DEFINE_float("floor", None, "KR: SRP gradient multiplier within tau.", lower_bound=0.0)
_TARGET_INACTIVE = flags.DEFINE_float("target_inactive", None, "KR: fraction SRP keeps inactive.",
                                      lower_bound=0.0, upper_bound=1.0)
_STUDENT_LR = flags.DEFINE_float("student_lr", None, "Initial student learning rate (> 0).")
_KNOWLEDGE_LR = flags.DEFINE_float("knowledge_lr", None, "Initial learning rate (> 0) of KR's aggregators (Eq. 9) only; other "
    "distillers' helpers keep their own default (FT: SGD 0.01) or the student's.")
_WD = flags.DEFINE_float("weight_decay", None, "Decoupled weight decay (Keras SGD subtracts lr*wd*w each step, outside the "
    "momentum). RepDistiller's coupled 5e-4 with momentum 0.9 corresponds to 5e-3 here.",
    lower_bound=0.0)
_MOMENTUM = flags.DEFINE_float("momentum", None, "SGD momentum of both optimizers.",
                               lower_bound=0.0, upper_bound=1.0)
_STRATEGY = flags.DEFINE_enum("strategy", "default", list(STRATEGIES), "tf.distribute strategy.")
_MIXED = flags.DEFINE_bool("mixed_precision", False, "mixed_float16 policy.")
_JIT = flags.DEFINE_bool("jit_compile", False, "XLA-compile the train step.")
_CHECKPOINT_DIR = flags.DEFINE_string("checkpoint_dir", None, "Resumable checkpoints.")
_SAVE_EVERY = flags.DEFINE_integer("save_every_steps", None, "Checkpoint period in steps.",
                                   lower_bound=1)
_DETERMINISTIC = flags.DEFINE_bool("deterministic", False, "TF op determinism (bit-identical reruns).")
_CHECK_NUMERICS = flags.DEFINE_bool("check_numerics", False, "Fail on NaN/Inf images.")
_OUTPUT = flags.DEFINE_string("output", "saved_models/student.keras", "Output student (.keras).")
require_positive(_STUDENT_WIDTH, _STUDENT_LR, _KNOWLEDGE_LR)

HPARAM_FLAGS = ("mu", "gamma", "group_size", "boost", "floor", "target_inactive")


@user_errors
def main(argv):
    del argv
    config = preset(_PRESET.value).with_overrides(
        method=_METHOD.value, teacher=_TEACHER.value or "", dataset=_DATASET.value,
        student_arch=_STUDENT_ARCH.value, student_depth=_STUDENT_DEPTH.value, student_width=_STUDENT_WIDTH.value,
        epochs=_EPOCHS.value, steps=_STEPS.value, steps_per_epoch=_STEPS_PER_EPOCH.value,
        batch_size=_BATCH.value, seed=_SEED.value, precise_bn_samples=_PRECISE_BN.value,
        train_take=_TRAIN_TAKE.value,
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
          f"params {result['params']} precise_bn_samples {result['precise_bn_samples']}")


def run():
    """Entry point of the `kr-distill` console script."""
    from experiments import _console

    _console.run(main, __name__)


if __name__ == "__main__":
    app.run(main)
