"""Runs the KR study (where KR beats the student alone) and writes its report.

Resumable: every run appends to `<results_dir>/kr_study.runs.csv` and a
rerun skips what is there.

    python -m experiments.study --stage=all --seeds=3
    python -m experiments.study --stage=report
"""

from absl import app
from absl import flags

from experiments.lib import study

_STAGE = flags.DEFINE_enum("stage", "all", ["select", "grid", "ablations", "report", "all"],
                           "What to run; every stage first selects the settings (cached).")
_SEEDS = flags.DEFINE_integer("seeds", 3, "Seeds per cell.", lower_bound=1)
_ABLATION_SEEDS = flags.DEFINE_integer("ablation_seeds", None,
                                       "Seeds per ablation row (default: --seeds).", lower_bound=1)
_ABLATION = flags.DEFINE_multi_string(
    "ablation", [], "Label of an ablation to run (repeatable; default: all), e.g. "
    "--ablation='KR, simultaneous steps'.")
_PRECISE_BN = flags.DEFINE_integer(
    "precise_bn_samples", study.PRECISE_BN_SAMPLES, "Re-estimate each student's batch-norm "
    "statistics on this many training images before its evaluation (precise BN; 0 = off). "
    "The study reads only the cached runs of this setting.", lower_bound=0)
_RESULTS = flags.DEFINE_string("results_dir", "results", "Where the runs and the report go.")
_FIGURE = flags.DEFINE_string("figure", "docs/figures/kr_study.png", "The gain plot.")
_STEPS = flags.DEFINE_integer("plan_steps", len(study.PLAN),
                              "Run only the first N entries of study.PLAN.",
                              lower_bound=0, upper_bound=len(study.PLAN))


def main(argv):
    del argv
    runs = study.Runs(_RESULTS.value, _PRECISE_BN.value)
    teachers = {}
    chosen = study.select(runs, teachers)
    command = "python -m experiments.study --stage=report"

    def write_report():
        study.record_teachers(runs)
        study.report(runs, _RESULTS.value, _FIGURE.value, command, chosen)

    runners = {"grid": study.grid, "ablation": study.run_ablations}
    for stage, index in study.PLAN[:_STEPS.value]:
        if _STAGE.value in ("all", stage if stage == "grid" else "ablations"):
            seeds = _SEEDS.value
            if stage == "ablation" and _ABLATION_SEEDS.value:
                seeds = _ABLATION_SEEDS.value
            extra = {"labels": _ABLATION.value} if stage == "ablation" else {}
            runners[stage](runs, teachers, chosen, seeds, cells=(study.CELLS[index],), **extra)
            write_report()
    write_report()
    print(f"Wrote {_RESULTS.value}/kr_study.md")


def run():
    """Entry point of the `kr-study` console script."""
    from experiments import _console

    _console.run(main, __name__)


if __name__ == "__main__":
    app.run(main)
