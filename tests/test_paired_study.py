"""Tests of experiments/paired_study.py's selection and report (no training)."""

import json

import pytest
from absl import flags

from experiments import paired_study


class _Runs:
    def __init__(self, rows):
        self.rows = rows

    def find(self, method, config, seed):
        key = (method, json.dumps(config, sort_keys=True), str(seed))
        return next((r for r in self.rows if (r["method"], r["config"], r["seed"]) == key), None)


@pytest.fixture(autouse=True)
def _flags():
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["paired_study"])
    yield
    flags.FLAGS.unparse_flags()


def test_kr_candidates_start_from_the_chosen_control_and_the_best_val_wins():
    chosen = {"ce": {"lr": 0.2}}
    candidates = paired_study.candidates("kr", chosen)
    assert len(candidates) == len(paired_study.GRIDS["ce"]) == 6
    assert all(c["lr"] == 0.2 for c in candidates)
    rows = [{"method": "kr", "config": json.dumps(c, sort_keys=True), "seed": "0",
             "val_accuracy": str(0.8 + 0.01 * (i == 3))} for i, c in enumerate(candidates)]
    assert paired_study.choose(_Runs(rows), "kr", chosen) == candidates[3]
    assert paired_study.choose(_Runs(rows[:-1]), "kr", chosen) is None  # one still to run
