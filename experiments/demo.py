"""The README's main job: student alone vs KD vs KR vs KR + KD.

Loads the shipped teacher (saved_models/), trains the four students, prints
the table and writes it, with the command and config, to `results/demo.md`
(`--output`; `make demo` runs this with the defaults).

    python -m experiments.demo                  # ~10 min on 2 CPU cores
    python -m experiments.demo --teacher_only   # (re)trains the teacher only
    python -m experiments.demo --seeds=5        # seeds 0..4 -> results/demo_seeds.{csv,md}
    python -m experiments.demo --student_epochs=1 --train_examples=2048 --output=/tmp/demo.md
"""

import dataclasses
import os
import sys
import time

from absl import app
from absl import flags

from experiments.lib.demo import DemoConfig
from experiments.lib.demo import format_differences
from experiments.lib.demo import format_table
from experiments.lib.demo import load_or_train_teacher
from experiments.lib.demo import run_demo
from experiments.lib.demo import rewrite_report
from experiments.lib.demo import run_seeds
from experiments.lib.demo import teacher_cache_path
from experiments.lib.demo import write_report

_DEFAULTS = DemoConfig()
# (lower_bound, upper_bound) of every numeric field; floats marked "> 0" must be positive.
_BOUNDS = {
    "teacher_depth": (1, None), "student_depth": (1, None), "teacher_epochs": (1, None),
    "student_epochs": (1, None), "batch_size": (1, None), "train_examples": (1, None),
    "teacher_batch_size": (1, None), "teacher_train_examples": (1, None),
    "test_examples": (1, None), "teacher_seed": (0, None),
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


_TEACHER_ONLY = flags.DEFINE_boolean(
    "teacher_only", False, "Only load or train the teacher (saved_models/demo_teacher_<hash>.keras "
    "and its .json record), then exit.")
_REWRITE = flags.DEFINE_boolean(
    "rewrite_report", False, "Only rewrite --output from the .json beside it (the last run's "
    "rows), with the verdicts against --seeds_file as it is now; no training.")
_SEEDS = flags.DEFINE_integer(
    "seeds", 0, "If > 0: train the four students over seeds 0..N-1 (resumable) into "
    "--seeds_file (CSV) and its .md table, instead of the one-seed demo.", lower_bound=0)


def main(argv):
    del argv
    config = DemoConfig(**{name: holder.value for name, holder in _FLAGS.items()})
    command = " ".join(["python -m experiments.demo", *sys.argv[1:]])
    if _TEACHER_ONLY.value:
        _, record, cached = load_or_train_teacher(config, command=command)
        print(f"{'Loaded' if cached else 'Trained'} {teacher_cache_path(config)}: test accuracy "
              f"{record.get('test_accuracy')}, weights SHA-256 {record['fingerprint']}")
        return
    if _REWRITE.value:
        print(open(rewrite_report(config.output, config.seeds_file)).read())
        return
    if _SEEDS.value:
        path = run_seeds(config, range(_SEEDS.value), command)
        print(open(path).read())
        return
    start = time.time()
    rows, record = run_demo(config)
    print()
    print(format_table(rows))
    print()
    print("\n".join(format_differences(rows, config)))
    if config.output:
        path = write_report(rows, config, config.output, command, time.time() - start,
                            teacher_record=record, load_average=os.getloadavg()[0])
        print(f"\ntable written to {path}")


def run():
    """Entry point of the `kr-demo` console script."""
    from experiments import _console

    _console.run(main, __name__)


if __name__ == "__main__":
    app.run(main)
