"""Tunes KR hyper-parameters (mu, gamma, boost, target_inactive, student lr)
with keras-tuner; writes the best trial as a flagfile for `distill`.

Example:
  python -m experiments.tune --teacher=saved_models/teacher_fmnist.keras \
      --algorithm=hyperband --max_epochs=3 --flagfile_out=tuning/best.flags
  python -m experiments.distill --teacher=... --flagfile=tuning/best.flags
"""

from absl import app, flags

from kr_keras import distillers
from experiments.lib import PRESETS, preset
from experiments.lib.cli import require_positive, user_errors
from experiments.lib.tuning import ALGORITHMS, tune

_METHOD = flags.DEFINE_enum("method", "kr", distillers.names(), "Method to tune (KR family).")
_PRESET = flags.DEFINE_enum("preset", "fashion_mnist", sorted(PRESETS), "Recipe to start from.")
_TEACHER = flags.DEFINE_string("teacher", None, "Trained teacher (.keras).", required=True)
_DATASET = flags.DEFINE_string("dataset", None, "Dataset (default: the preset's).")
_STUDENT_DEPTH = flags.DEFINE_integer("student_depth", None, "Student depth.", lower_bound=1)
_STUDENT_WIDTH = flags.DEFINE_float("student_width", None, "Student width multiplier (> 0).")
_GROUP_SIZE = flags.DEFINE_integer("group_size", None, "KR aggregation number k.", lower_bound=1)
_BATCH = flags.DEFINE_integer("batch_size", None, "Batch size.", lower_bound=1)
_STEPS_PER_EPOCH = flags.DEFINE_integer("steps_per_epoch", None, "Steps per epoch.", lower_bound=1)
_TRAIN_TAKE = flags.DEFINE_integer("train_take", None, "Training subset.", lower_bound=1)
_EVAL_TAKE = flags.DEFINE_integer("eval_take", None, "Validation subset (the evaluation split: "
                                  "test; validation for imagenet2012).", lower_bound=1)
_SEED = flags.DEFINE_integer("seed", None, "Seed.", lower_bound=0)
_ALGORITHM = flags.DEFINE_enum("algorithm", "hyperband", list(ALGORITHMS), "Search algorithm.")
_MAX_TRIALS = flags.DEFINE_integer("max_trials", 10, "Bayesian trials.", lower_bound=1)
_MAX_EPOCHS = flags.DEFINE_integer("max_epochs", 3, "Epochs of the longest trial.", lower_bound=1)
_DIRECTORY = flags.DEFINE_string("directory", "tuning", "keras-tuner directory (resumable).")
_PROJECT = flags.DEFINE_string("project_name", "kr", "Search name.")
_FLAGFILE_OUT = flags.DEFINE_string("flagfile_out", None, "Best flags (default: <dir>/<project>/best.flags).")
require_positive(_STUDENT_WIDTH)


@user_errors
def main(argv):
    del argv
    base = preset(_PRESET.value).with_overrides(
        method=_METHOD.value, teacher=_TEACHER.value, dataset=_DATASET.value,
        student_depth=_STUDENT_DEPTH.value, student_width=_STUDENT_WIDTH.value,
        batch_size=_BATCH.value, steps_per_epoch=_STEPS_PER_EPOCH.value,
        train_take=_TRAIN_TAKE.value, eval_take=_EVAL_TAKE.value, seed=_SEED.value,
        hparams={"group_size": _GROUP_SIZE.value})
    best, path = tune(base, _ALGORITHM.value, _MAX_TRIALS.value, _MAX_EPOCHS.value,
                      _DIRECTORY.value, _PROJECT.value, _FLAGFILE_OUT.value)
    print(f"best: {best}\nflagfile: {path}")


def run():
    """Entry point of the `kr-tune` console script."""
    from experiments import _console

    _console.run(main, __name__)


if __name__ == "__main__":
    app.run(main)
