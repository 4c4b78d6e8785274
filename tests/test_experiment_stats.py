"""Tests of experiments/lib/stats.py: t-quantiles, intervals, verdicts."""

import math

import numpy as np
import pytest

from experiments.lib import stats


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
    assert _t_cdf(stats.T975[df - 1], df) == pytest.approx(0.975, abs=2e-4)


def test_t_interval_of_paired_differences():
    mean, low, high = stats.t_interval([1.0, 2.0, 3.0])
    half = stats.T975[1] * 1.0 / math.sqrt(3)  # sd 1, n 3
    assert (mean, low, high) == pytest.approx((2.0, 2.0 - half, 2.0 + half))
    assert stats.t_interval([0.5]) == (0.5, None, None)


def test_verdicts_need_five_seeds_and_an_interval_excluding_zero():
    assert stats.verdict("kr", "ce", [1.0, 2.0, 3.0, 2.5]) == "none (4 of 5 seeds)"
    assert stats.verdict("kr", "ce", [1.0, 2.0, 3.0, 2.5, 1.5]) == "kr beats ce"
    assert stats.verdict("kr", "ce", [-1.0, -2.0, -3.0, -2.5, -1.5]) == "ce beats kr"
    assert stats.verdict("kr", "ce", [1.0, -1.0, 2.0, -2.0, 0.5]) == "no difference shown"


def test_every_table_row_has_its_control_row():
    from experiments.lib.tables import TABLES, control_row

    for table in TABLES.values():
        for row in table.rows:
            if row.method in ("teacher", "ce"):
                continue
            control = control_row(table, row)
            assert control is not None, (table.name, row.label)
            assert control.method == stats.control_of(row.method)
            assert control.student_width == row.student_width  # the same student


def test_table_summary_pairs_seeds_with_the_control_and_reports_failed_runs():
    import dataclasses

    from experiments.lib.tables import BUDGETS, TABLES, summarize

    table = TABLES["fashion_mnist"]
    table = dataclasses.replace(table, rows=tuple(r for r in table.rows
                                                  if r.method in ("ce", "kr+kd", "kd")
                                                  and r.student_width is None))

    def run(row, method, seed, accuracy, status="ok"):
        return {"row": row, "method": method, "seed": str(seed), "teacher": "t", "params": "1",
                "last_accuracy": accuracy, "top5_accuracy": "", "status": status}

    runs = [run("Student (original)", "ce", s, 0.70 + 0.01 * s) for s in range(3)]
    runs += [run("KD", "kd", s, 0.72 + 0.02 * s) for s in range(3)]
    runs += [run("Proposed + KD", "kr+kd", 0, 0.73), run("Proposed + KD", "kr+kd", 1, "", "n/a: nan"),
             run("Proposed + KD", "kr+kd", 2, 0.75)]
    summary = {s["method"]: s for s in summarize(table, BUDGETS["tiny"], runs)[0]}
    # KR + KD against KD (not the student alone), on the seeds both finished.
    assert summary["kr+kd"]["control"] == "KD" and summary["kr+kd"]["paired_seeds"] == 2
    assert summary["kr+kd"]["difference"] == pytest.approx((1.0 + (-1.0)) / 2)
    assert summary["kr+kd"]["status"] == "1 of 3 runs n/a: nan"
    assert summary["kd"]["difference"] == pytest.approx(100 * (0.02 + 0.03 + 0.04) / 3)
    assert summary["kd"]["verdict"] == "none (3 of 5 seeds)" and summary["kd"]["status"] == "ok"
