"""Exports a trained student as a TF Serving SavedModel.

Writes `<base_dir>/<name>/<version>/` whose `serving_default` signature takes
raw uint8 images `[None, H, W, C]` and returns `probabilities` and `classes`
(docs/serving.md).

Example:
  python -m experiments.export --student=saved_models/student.keras \
      --dataset=fashion_mnist --name=kr_student --version=1
"""

import os

from absl import app, flags

from experiments.lib import io
from experiments.lib.cli import user_errors
from kr_keras.export import export_student

_STUDENT = flags.DEFINE_string("student", None, "Trained student (.keras).", required=True)
_DATASET = flags.DEFINE_string("dataset", "fashion_mnist", "Dataset whose normalisation to embed.")
_BASE = flags.DEFINE_string("base_dir", "saved_models", "Root of the model repository.")
_NAME = flags.DEFINE_string("name", "student", "Model name (TF Serving --model_name).")
_VERSION = flags.DEFINE_integer("version", 1, "Model version (a positive integer).", lower_bound=1)
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace a different model in the version dir.")


@user_errors
def main(argv):
    del argv
    student = io.load_model(_STUDENT.value, role="student")
    path = export_student(student, _DATASET.value,
                          os.path.join(_BASE.value, _NAME.value, str(_VERSION.value)),
                          overwrite=_OVERWRITE.value)
    print(f"exported: {path}")


def run():
    """Entry point of the `kr-export` console script."""
    from experiments import _console

    _console.run(main, __name__)


if __name__ == "__main__":
    app.run(main)
