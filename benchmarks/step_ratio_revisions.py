"""`step_ratio.py` on two revisions of kr_keras, run alternately.

Each round runs `benchmarks/step_ratio.py` once in a checkout of `--before`
(a `git worktree` this script adds and removes) and once in this checkout,
in alternating order, and reads each method's img/s ratio to KD from the
two tables. Reports per method the median over rounds for each revision and
the spread of the rounds, so "slower" means beyond the rounds' spread.

    python benchmarks/step_ratio_revisions.py --before=63e2f9d --rounds=3

Writes `results/benchmarks/step_ratio_revisions.md` (`--out`).
"""

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

import step_timing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_BEFORE = flags.DEFINE_string("before", "63e2f9d", "The revision to compare with.")
_ROUNDS = flags.DEFINE_integer("rounds", 3, "Alternating rounds.", lower_bound=1)
_METHODS = flags.DEFINE_list("methods", ["kd", "kr", "kr+kd", "kr_dense"], "Methods to time.")
_ARGS = flags.DEFINE_string("step_ratio_args", "--rounds=2 --steps=4",
                            "Arguments of each step_ratio.py run.")
_OUT = flags.DEFINE_string("out", os.path.join(ROOT, "results", "benchmarks",
                                               "step_ratio_revisions.md"), "Markdown file.")


def ratios(checkout, out):
    """`{method: img/s ÷ kd}` of one step_ratio.py run in `checkout`."""
    env = {**os.environ, "PYTHONPATH": checkout, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, os.path.join(checkout, "benchmarks", "step_ratio.py"),
               f"--methods={','.join(_METHODS.value)}", f"--out={out}",
               *_ARGS.value.split()]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode:  # say which revision and why, not only the exit status
        raise RuntimeError(f"step_ratio.py failed in {checkout}:\n{result.stderr[-2000:]}")
    table = open(out).read()
    found = {}
    for method in _METHODS.value:
        row = re.search(rf"^\| {re.escape(method)} \| \d+ \|(.*)$", table, re.M)
        found[method] = float(row.group(1).split("|")[1])  # the "÷ kd" column
    return found


def main(argv):
    del argv
    before = tempfile.mkdtemp(prefix="kr_before_")
    subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", before, _BEFORE.value],
                   check=True, capture_output=True)
    runs = {"before": [], "after": []}
    try:
        for round_ in range(_ROUNDS.value):
            order = [("before", before), ("after", ROOT)]
            for label, checkout in (order if round_ % 2 == 0 else order[::-1]):
                runs[label].append(ratios(checkout, os.path.join(before, f"{label}.md")))
                print(f"round {round_} {label}: {runs[label][-1]}", flush=True)
    finally:
        subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", before],
                       capture_output=True)
    lines = ["# step_ratio.py before and after, alternating", "",
             f"Command: `python benchmarks/step_ratio_revisions.py {' '.join(sys.argv[1:])}`"
             f" ({time.strftime('%Y-%m-%d %H:%M')}; before = `{_BEFORE.value}`, after = this "
             f"checkout; each run `step_ratio.py {_ARGS.value}`; load average "
             f"{os.getloadavg()[0]:.1f} at the end).", "",
             "Median img/s ratio to KD over the rounds, and the rounds' range.", "",
             "| method | before | after | before range | after range |",
             "|---|---:|---:|---|---|"]
    for method in _METHODS.value:
        b = [r[method] for r in runs["before"]]
        a = [r[method] for r in runs["after"]]
        lines.append(f"| {method} | {statistics.median(b):.3f} | {statistics.median(a):.3f} | "
                     f"{min(b):.3f}-{max(b):.3f} | {min(a):.3f}-{max(a):.3f} |")
    step_timing.write_report(_OUT.value, lines)


if __name__ == "__main__":
    app.run(main)
