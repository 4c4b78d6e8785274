"""Evaluates a saved model: accuracy (+ top-5 with >= 100 classes), params,
FLOPs and images/s; prints JSON (and writes it with --output).

Example:
  python -m experiments.evaluate --model=saved_models/student.keras --dataset=fashion_mnist
"""

import json

from absl import app, flags

from experiments.lib import io
from experiments.lib.cli import user_errors
from experiments.lib.evaluation import evaluate_saved

_MODEL = flags.DEFINE_string("model", None, "Saved model (.keras).", required=True)
_DATASET = flags.DEFINE_string("dataset", "fashion_mnist", "kr_keras.data dataset name.")
_BATCH = flags.DEFINE_integer("batch_size", 256, "Batch size.", lower_bound=1)
_TAKE = flags.DEFINE_integer("take", None, "Evaluate on the first N images of the evaluation "
                             "split (test; validation for imagenet2012).", lower_bound=1)
_PRECISE_BN = flags.DEFINE_integer(
    "precise_bn_samples", 0, "First re-estimate the model's batch-norm statistics (in memory) "
    "on this many training images (precise BN; 0 = off: students trained by "
    "experiments.distill already carry them).", lower_bound=0)
_OUTPUT = flags.DEFINE_string("output", None, "Also write the JSON here.")


@user_errors
def main(argv):
    del argv
    model = io.load_model(_MODEL.value, role="model")
    result = evaluate_saved(model, _DATASET.value, _BATCH.value, _TAKE.value,
                            precise_bn_samples=_PRECISE_BN.value)
    text = json.dumps(result, indent=1)
    if _OUTPUT.value:
        io.write_text(_OUTPUT.value, text + "\n")
    print(text)


def run():
    """Entry point of the `kr-evaluate` console script."""
    from experiments import _console

    _console.run(main, __name__)


if __name__ == "__main__":
    app.run(main)
