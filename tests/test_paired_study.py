"""Tests of experiments/paired_study.py's statistics and selection (no training)."""

import json
import math

import numpy as np
import pytest
from absl import flags

from experiments import paired_study


def _t_cdf(x, df):
    """Student's t CDF by numerical integration of its density (independent
    of the table under test)."""
    c = math.gamma((df + 1) / 2) / (math.sqrt(df * math.pi) * math.gamma(df / 2))
    t = np.linspace(0.0, x, 200001)
    density = c * (1 + t * t / df) ** (-(df + 1) / 2)
    trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2 names it trapz
    return 0.5 + trapezoid(density, t)


@pytest.mark.parametrize("df", [1, 2, 4, 9, 29])
def test_the_t_quantiles_are_the_975th_percentiles(df):
    assert _t_cdf(paired_study._T975[df - 1], df) == pytest.approx(0.975, abs=2e-4)


def test_t_interval_of_paired_differences():
    mean, low, high = paired_study.t_interval([1.0, 2.0, 3.0])
    half = paired_study._T975[1] * 1.0 / math.sqrt(3)  # sd 1, n 3
    assert (mean, low, high) == pytest.approx((2.0, 2.0 - half, 2.0 + half))
    assert paired_study.t_interval([0.5]) == (0.5, None, None)


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
