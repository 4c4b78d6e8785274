"""The README's main job: teacher vs student alone vs KR student.

    python -m experiments.demo            # ~20 min on 2 CPU cores
    python -m experiments.demo --student_epochs=1 --train_examples=2048
"""

import dataclasses

from absl import app
from absl import flags

from kr_keras.demo import DemoConfig
from kr_keras.demo import format_table
from kr_keras.demo import run_demo

_DEFAULTS = DemoConfig()
_FLAGS = {}
for _field in dataclasses.fields(DemoConfig):
    _default = getattr(_DEFAULTS, _field.name)
    _define = {int: flags.DEFINE_integer, float: flags.DEFINE_float,
               str: flags.DEFINE_string}.get(type(_default), flags.DEFINE_integer)
    _FLAGS[_field.name] = _define(_field.name, _default, f"DemoConfig.{_field.name}")


def main(argv):
    del argv
    config = DemoConfig(**{name: holder.value for name, holder in _FLAGS.items()})
    rows = run_demo(config)
    print()
    print(format_table(rows))


def run():
    """Entry point of the `kr-demo` console script."""
    from experiments import _console

    _console.run(main, __name__)


if __name__ == "__main__":
    app.run(main)
