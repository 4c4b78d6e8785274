"""The README's main job: teacher vs student alone vs KR student.

Prints the table and writes it, with the command and config, to
`results/demo.md` (`--output`; `make demo` runs this with the defaults).

    python -m experiments.demo            # ~20 min on 2 CPU cores
    python -m experiments.demo --student_epochs=1 --train_examples=2048 --output=/tmp/demo.md
"""

import dataclasses
import sys
import time

from absl import app
from absl import flags

from kr_keras.demo import DemoConfig
from kr_keras.demo import format_table
from kr_keras.demo import run_demo
from kr_keras.demo import write_report

_DEFAULTS = DemoConfig()
# (lower_bound, upper_bound) of every numeric field; floats marked "> 0" must be positive.
_BOUNDS = {
    "teacher_depth": (1, None), "student_depth": (1, None), "teacher_epochs": (1, None),
    "student_epochs": (1, None), "batch_size": (1, None), "train_examples": (1, None),
    "student_width": "> 0", "teacher_lr": "> 0", "student_lr": "> 0", "knowledge_lr": "> 0",
    "mu": (0.0, None), "gamma": (0.0, None), "seed": (0, None), "verbose": (0, 2),
}
_FLAGS = {}
for _field in dataclasses.fields(DemoConfig):
    _default = getattr(_DEFAULTS, _field.name)
    _define = {int: flags.DEFINE_integer, float: flags.DEFINE_float,
               str: flags.DEFINE_string}.get(type(_default), flags.DEFINE_integer)
    _bounds = _BOUNDS.get(_field.name)
    _kwargs = {}
    if isinstance(_bounds, tuple):
        _kwargs = {"lower_bound": _bounds[0], "upper_bound": _bounds[1]}
    _FLAGS[_field.name] = _define(_field.name, _default, f"DemoConfig.{_field.name}", **_kwargs)
    if _bounds == "> 0":
        flags.register_validator(_FLAGS[_field.name], lambda v: v is None or v > 0,
                                 message=f"--{_field.name} must be > 0")


def main(argv):
    del argv
    config = DemoConfig(**{name: holder.value for name, holder in _FLAGS.items()})
    start = time.time()
    rows = run_demo(config)
    print()
    print(format_table(rows))
    if config.output:
        command = " ".join(["python -m experiments.demo", *sys.argv[1:]])
        path = write_report(rows, config, config.output, command, time.time() - start)
        print(f"\ntable written to {path}")


def run():
    """Entry point of the `kr-demo` console script."""
    from experiments import _console

    _console.run(main, __name__)


if __name__ == "__main__":
    app.run(main)
