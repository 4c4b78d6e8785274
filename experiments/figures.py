"""Draws the paper's Fig. 2 (penalty curves), Fig. 4 (kernel histograms by
penalty) and Fig. 5 (training loss by penalty) into docs/figures/.

Example:
  python -m experiments.figures --dataset=fashion_mnist --steps=500
"""

import json

from absl import app, flags

from experiments.lib.cli import user_errors
from experiments.lib.figures import make_all

_DATASET = flags.DEFINE_string("dataset", "fashion_mnist", "Dataset of Fig. 4/5.")
_STEPS = flags.DEFINE_integer("steps", 500, "Training iterations per penalty.", lower_bound=1)
_TAKE = flags.DEFINE_integer("take", None, "Use the first N training images.", lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "Seed.", lower_bound=0)
_OUT = flags.DEFINE_string("out_dir", "docs/figures", "Output directory.")


@user_errors
def main(argv):
    del argv
    paths, summary = make_all(_OUT.value, _DATASET.value, _STEPS.value, _TAKE.value, _SEED.value)
    print(json.dumps({"figures": paths, "summary": summary}, indent=1))


def run():
    """Entry point of the `kr-figures` console script."""
    from experiments import _console

    _console.run(main, __name__)


if __name__ == "__main__":
    app.run(main)
