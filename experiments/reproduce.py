"""Reproduces a paper table: one teacher, then the student alone and every
method of the table, same budget, paired seeds, each row against its control
(mean difference and 95% t-interval); writes results/<table>.md and .csv.
Every run trains unless `--resume` (the committed runs of a clone included).

Example:
  python -m experiments.reproduce --table=fashion_mnist --budget=small
  python -m experiments.reproduce --table=fashion_mnist --budget=small --resume
"""

from absl import app, flags

from experiments.lib.cli import require_positive, user_errors
from experiments.lib.tables import BUDGETS, TABLES, reproduce

_TABLE = flags.DEFINE_enum("table", "fashion_mnist", sorted(TABLES), "Paper table.")
_SEEDS = flags.DEFINE_integer("seeds", 5, "Student seeds 0..N-1 (a verdict needs 5).",
                              lower_bound=1)
_BUDGET = flags.DEFINE_enum("budget", "small", sorted(BUDGETS), "Training budget.")
_RESULTS = flags.DEFINE_string("results_dir", "results", "Where results go.")
_MODELS = flags.DEFINE_string("models_dir", "saved_models/reproduce", "Where teachers/students go.")
_RESUME = flags.DEFINE_bool("resume", False, "Skip the runs already in "
                            "<results_dir>/<table>.runs.csv (continue an interrupted reproduction); "
                            "without it every run trains and the file is replaced.")
_METHODS = flags.DEFINE_list("methods", None, "Run only these rows' methods (teacher included).")
# Toy-size overrides (tests, smoke runs).
_TRAIN_TAKE = flags.DEFINE_integer("train_take", None, "Override the budget's training subset.",
                                   lower_bound=1)
_EVAL_TAKE = flags.DEFINE_integer("eval_take", None, "Override the budget's test subset.",
                                  lower_bound=1)
_TEACHER_EPOCHS = flags.DEFINE_integer("teacher_epochs", None, "Override teacher epochs.",
                                       lower_bound=1)
_STUDENT_EPOCHS = flags.DEFINE_integer("student_epochs", None, "Override student epochs.",
                                       lower_bound=1)
_STEPS_PER_EPOCH = flags.DEFINE_integer("steps_per_epoch", None, "Cap steps per epoch.",
                                        lower_bound=1)
_BATCH = flags.DEFINE_integer("batch_size", None, "Override the batch size.", lower_bound=1)
_TEACHER_DEPTH = flags.DEFINE_integer("teacher_depth", None, "Override the teacher depth.",
                                      lower_bound=1)
_STUDENT_DEPTH = flags.DEFINE_integer("student_depth", None, "Override the student depth.",
                                      lower_bound=1)
_STUDENT_WIDTH = flags.DEFINE_float("student_width", None, "Override the student width (> 0).")
_GROUP_SIZE = flags.DEFINE_integer("group_size", None, "Override the aggregation number k.",
                                   lower_bound=1)
require_positive(_STUDENT_WIDTH)

# The toy-size overrides above, passed to `reproduce` when set.
OVERRIDE_FLAGS = ("train_take", "eval_take", "teacher_epochs", "student_epochs", "steps_per_epoch",
                  "batch_size", "teacher_depth", "student_depth", "student_width", "group_size")


@user_errors
def main(argv):
    del argv
    overrides = {n: flags.FLAGS[n].value for n in OVERRIDE_FLAGS
                 if flags.FLAGS[n].value is not None}
    reproduce(_TABLE.value, _SEEDS.value, _BUDGET.value, _RESULTS.value, _MODELS.value, overrides,
              methods=_METHODS.value, resume=_RESUME.value)
    print(f"results: {_RESULTS.value}/{_TABLE.value}.md")


def run():
    """Entry point of the `kr-reproduce` console script."""
    from experiments import _console

    _console.run(main, __name__)


if __name__ == "__main__":
    app.run(main)
