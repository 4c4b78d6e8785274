"""The paper's result tables as data, and `reproduce` to fill them in.

Paper numbers: the top-1 accuracies (%) of the paper's Tables 1, 2 and 4
(Sec. 4.2.1, 4.2.2, 4.2.4). The tables, their controls and the measurement
rules: docs/experiments.md, "reproduce".
"""

import csv
import dataclasses
import io as _io
import os
import time
from typing import Optional

import numpy as np

from kr_keras import distillers
from kr_keras.models import weights_fingerprint
from experiments.lib import config as config_lib
from experiments.lib import io, training
from experiments.lib.stats import control_of
from experiments.lib.stats import t_interval
from experiments.lib.stats import verdict


@dataclasses.dataclass(frozen=True)
class Row:
    """One table row: label, registry method (`"teacher"` for the teacher),
    the paper's top-1 accuracy (%) if any, and a student width of its own
    where the method needs one (FSP, docs/experiments.md)."""

    label: str
    method: str
    paper: Optional[float] = None
    student_width: Optional[float] = None


@dataclasses.dataclass(frozen=True)
class Table:
    """A paper table: dataset, architectures, aggregation number, rows."""

    name: str
    dataset: str
    teacher_depth: int
    student_depth: int
    student_width: float
    group_size: int
    rows: tuple
    source: str = ""


@dataclasses.dataclass(frozen=True)
class Budget:
    """How long each run trains.

    Args:
        name: `"tiny"`, `"small"` or `"paper"`.
        train_take: Training subset (`None`: all).
        eval_take: Test subset (`None`: all).
        teacher_epochs: Teacher epochs.
        student_epochs: Student epochs (ignored when `student_steps`).
        student_steps: Total student steps (the paper's 64k).
        batch_size: Batch size of every run.
        note: Printed into the results.
    """

    name: str
    train_take: Optional[int]
    eval_take: Optional[int]
    teacher_epochs: int
    student_epochs: int
    student_steps: Optional[int] = None
    batch_size: int = 128
    note: str = ""


def _cifar_rows(paper):
    labels = ("Teacher", "Student (original)", "FitNet", "Student x1.0", "FSP (student x1.0)",
              "Proposed-Dense", "Proposed", "NST", "KDGAN", "Proposed + KDGAN")
    methods = ("teacher", "ce", "fitnet", "ce", "fsp", "kr_dense", "kr", "nst", "kdgan",
               "kr+kdgan")
    # FSP needs a student as wide as the teacher (see Row); its control is as wide.
    widths = (None, None, None, 1.0, 1.0, None, None, None, None, None)
    paper = paper[:3] + (None,) + paper[3:]
    return tuple(Row(l, m, p, w) for l, m, p, w in zip(labels, methods, paper, widths))


TABLES = {
    "cifar10": Table("cifar10", "cifar10", 26, 8, 0.75, 3, _cifar_rows(
        (91.91, 87.91, 88.57, 88.70, 89.11, 90.65, 88.98, 88.62, 91.35)), "Table 1"),
    "cifar100": Table("cifar100", "cifar100", 32, 14, 0.75, 3, tuple(
        r for r in _cifar_rows((64.06, 58.65, 61.28, 63.33, None, 63.95, 63.78, 63.96, 63.98))
        if r.method != "kr_dense"), "Table 2"),
    "t_cifar100": Table("t_cifar100", "t_cifar100", 32, 14, 0.75, 3, tuple(
        r for r in _cifar_rows((61.25, 54.37, 56.77, 57.31, None, 60.03, 57.88, 58.15, 60.33))
        if r.method != "kr_dense"), "Table 4"),
    "fashion_mnist": Table("fashion_mnist", "fashion_mnist", 20, 8, 0.75, 3, tuple(
        dataclasses.replace(r, paper=None) for r in _cifar_rows((None,) * 9)) + (
        Row("Proposed (SRP on weights)", "kr_weights"),
        Row("KD", "kd"), Row("Proposed + KD", "kr+kd"), Row("AT", "at"), Row("SP", "sp"),
        Row("CC", "cc"), Row("VID", "vid"), Row("RKD", "rkd"), Row("PKT", "pkt"),
        Row("AB", "ab"), Row("FT", "ft"), Row("CRD", "crd"), Row("DKD", "dkd")),
        "Table 1's rows and the RepDistiller zoo (no paper table)"),
}

BUDGETS = {
    # How "tiny" and "small" were planned: docs/experiments.md, "reproduce".
    "tiny": Budget("tiny", train_take=5_000, eval_take=2_000, teacher_epochs=8,
                   student_epochs=4, note="tiny budget: first 5,000 training and 2,000 test "
                   "images, teacher 8 epochs, students 4 epochs"),
    "small": Budget("small", train_take=12_000, eval_take=2_000, teacher_epochs=5,
                    student_epochs=4, note="small budget: first 12,000 training and 2,000 test "
                    "images, teacher 5 epochs, students 4 epochs"),
    # The paper's schedule (Sec. 4.3): 64k student steps, decays at 30k/48k.
    "paper": Budget("paper", train_take=None, eval_take=None, teacher_epochs=200,
                    student_epochs=0, student_steps=64_000,
                    note="paper budget: full data, teacher 200 epochs, students 64k steps"),
}

FIELDS = ("table", "row", "method", "seed", "teacher", "params", "last_accuracy",
          "top5_accuracy", "seconds", "status")


def _read_runs(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _write_csv(path, rows, fields):
    buffer = _io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    io.write_text(path, buffer.getvalue())


def _stats(values):
    values = [float(v) for v in values if v not in ("", None)]
    if not values:
        return None, None
    return float(np.mean(values)), float(np.std(values, ddof=1) if len(values) > 1 else 0.0)


def control_row(table, row):
    """The row `row` is compared with (its method's control, same student width), or `None`."""
    method = control_of(row.method)
    return next((r for r in table.rows if r is not row and r.method == method
                 and r.student_width == row.student_width), None)


def paired_differences(runs, row, control):
    """`100 * (row - control)` test accuracy per seed both ran, in seed order."""
    accuracy = {(r["row"], r["seed"]): float(r["last_accuracy"]) for r in runs
                if r["status"] == "ok"}
    seeds = sorted({s for label, s in accuracy if label == row.label}, key=int)
    return [100 * (accuracy[row.label, s] - accuracy[control.label, s]) for s in seeds
            if (control.label, s) in accuracy]


def summarize(table, budget, runs):
    """Aggregated rows (mean ± std over seeds, the paired difference with the
    control row) and the Markdown report."""
    registered = set(distillers.names()) | {"teacher"}
    summary = []
    for row in table.rows:
        mine = [r for r in runs if r["row"] == row.label and r["status"] == "ok"]
        last, last_sd = _stats([r["last_accuracy"] for r in mine])
        top5, _ = _stats([r["top5_accuracy"] for r in mine])
        reported = [r["status"] for r in runs if r["row"] == row.label]
        failed = [r for r in reported if r != "ok"]  # e.g. a seed stopped by the NaN guard
        status = (f"{len(failed)} of {len(reported)} runs {failed[0]}" if failed else "ok")
        if not reported:
            status = "not registered" if row.method not in registered else "not run"
        control = control_row(table, row) if row.method not in ("teacher", "ce") else None
        diffs = paired_differences(runs, row, control) if control else []
        mean, low, high = t_interval(diffs) if diffs else (None, None, None)
        summary.append({
            "row": row.label, "method": row.method, "seeds": len(mine),
            "params": mine[0]["params"] if mine else "",
            "last_mean": last, "last_std": last_sd, "top5_mean": top5, "paper": row.paper,
            "control": control.label if control else "", "paired_seeds": len(diffs),
            "difference": mean, "low": low, "high": high,
            "verdict": verdict(row.label, control.label, diffs) if control else "",
            "status": status,
        })

    def pct(mean, sd, seeds):
        if mean is None:
            return ""
        # One seed has no spread: print the value alone, not "± 0.00".
        return f"{100 * mean:.2f}" if seeds < 2 else f"{100 * mean:.2f} ± {100 * sd:.2f}"

    def against(s):
        if not s["control"] or s["difference"] is None:
            return s["control"] and f"{s['control']}: no paired seed"
        interval = "" if s["low"] is None else f" [{s['low']:+.2f}, {s['high']:+.2f}]"
        return f"{s['control']}: {s['difference']:+.2f}{interval}"

    teacher = sorted({r.get("teacher") or "?" for r in runs})
    lines = [
        f"# {table.name}: {table.source}",
        "",
        f"Teacher ResNet-{table.teacher_depth} (one for every row, weights fingerprint "
        f"`{', '.join(teacher) or '-'}`), student ResNet-{table.student_depth}"
        f"x{table.student_width:g}, aggregation k={table.group_size}, dataset "
        f"`{table.dataset}`. {budget.note}. Top-1 test accuracy (%) after the last epoch, "
        "mean ± std over seeds (no epoch is selected on the test set). A seed is the "
        "same initial student and data order in every row; each row is compared with its "
        "control by the paired difference (points) and its 95% t-interval; a verdict "
        "needs 5 paired seeds and an interval that excludes 0.",
        "",
        "| Row | Method | Params | Last | Paper | Seeds | − control [95% CI] | Verdict | Status |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summary:
        params = f"{int(s['params']) / 1e6:.3f}M" if s["params"] else ""
        paper = "" if s["paper"] is None else f"{s['paper']:.2f}"
        lines.append(f"| {s['row']} | `{s['method']}` | {params}"
                     f" | {pct(s['last_mean'], s['last_std'], s['seeds'])} | {paper} | {s['seeds']} | "
                     f"{against(s)} | {s['verdict']} | {s['status']} |")
    return summary, "\n".join(lines) + "\n"


def reproduce(table_name, seeds=5, budget_name="small", results_dir="results",
              models_dir="saved_models/reproduce", overrides=None, verbose=0, log=print,
              methods=None, resume=False):
    """Trains the table's teacher once, then every row for `seeds` seeds;
    writes `<results_dir>/<table>.runs.csv` (one row per run), `<table>.csv`
    (per row) and `<table>.md`, atomically.

    Args:
        table_name: A key of `TABLES`.
        seeds: Student seeds 0..seeds-1 (the teacher is trained with seed 0).
        budget_name: A key of `BUDGETS`.
        results_dir: Output directory.
        models_dir: Where the teacher and students are saved.
        overrides: Dict overriding `Budget` fields (and `teacher_depth`,
            `student_depth`, `student_width`, `group_size`), for toy runs.
        verbose: Passed to `fit`.
        log: Progress printer.
        methods: Run only the rows of these methods (`"teacher"` included);
            the report still lists every row of the table.
        resume: Keep and skip the runs already in
            `<results_dir>/<table>.runs.csv` (same teacher only); without it
            they are replaced as new runs finish.

    Returns:
        The aggregated rows.
    """
    if table_name not in TABLES:
        raise ValueError(f"Unknown table. Known tables: {sorted(TABLES)}. Received: table={table_name!r}")
    if budget_name not in BUDGETS:
        raise ValueError(f"Unknown budget. Known budgets: {sorted(BUDGETS)}. Received: budget={budget_name!r}")
    table, budget = TABLES[table_name], BUDGETS[budget_name]
    overrides = dict(overrides or {})
    arch = {k: overrides.pop(k) for k in ("teacher_depth", "student_depth", "student_width", "group_size")
            if k in overrides}
    table = dataclasses.replace(table, **arch)
    steps_cap = overrides.pop("steps_per_epoch", None)
    budget = dataclasses.replace(budget, **overrides)
    runs_path = os.path.join(results_dir, f"{table.name}.runs.csv")
    runs = _read_runs(runs_path) if resume else []
    if not resume and os.path.exists(runs_path):
        log(f"Starting afresh: the runs in {runs_path} are replaced as new runs finish "
            "(--resume continues them instead).")
    done = {(r["row"], r["seed"]) for r in runs}
    registered = set(distillers.names())
    student_preset = config_lib.preset("cifar" if budget.name == "paper" else "fashion_mnist")
    model_dir = os.path.join(models_dir, table.name, budget.name)
    teacher_path = os.path.join(model_dir, "teacher.keras")

    def write_report():
        summary, markdown = summarize(table, budget, runs)
        _write_csv(os.path.join(results_dir, f"{table.name}.csv"), summary, list(summary[0]))
        io.write_text(os.path.join(results_dir, f"{table.name}.md"), markdown)
        return summary

    def record(run, result, start):
        runs.append({**run, "params": result["params"],
                     "last_accuracy": result["test"]["accuracy"],
                     "top5_accuracy": result["test"].get("top5_accuracy", ""),
                     "seconds": f"{time.time() - start:.1f}", "status": "ok"})
        _write_csv(runs_path, runs, FIELDS)
        log(f"{run['row']} seed {run['seed']}: {runs[-1]['last_accuracy']:.4f} "
            f"({runs[-1]['seconds']} s)")
        write_report()

    log(f"{table.name}: {budget.note}")
    trained = not any(r["method"] == "teacher" for r in runs)
    if trained:
        start = time.time()
        result = training.train_teacher(config_lib.TeacherConfig(
            dataset=table.dataset, depth=table.teacher_depth, epochs=budget.teacher_epochs,
            batch_size=budget.batch_size, seed=0, train_take=budget.train_take,
            eval_take=budget.eval_take, steps_per_epoch=steps_cap, output=teacher_path),
            verbose=verbose)
    fingerprint = weights_fingerprint(io.load_model(teacher_path))[:16]
    if trained:
        teacher_row = next((r for r in table.rows if r.method == "teacher"), None)
        record({"table": table.name, "row": teacher_row.label if teacher_row else "Teacher",
                "method": "teacher", "seed": "0", "teacher": fingerprint}, result, start)
    other = sorted({r.get("teacher") or "none" for r in runs} - {fingerprint})
    if other:
        raise ValueError(f"{runs_path} holds runs of another teacher ({other}) than "
                         f"{teacher_path} ({fingerprint}); rows of two teachers are never "
                         "compared. Start afresh (without --resume).")
    for seed in range(seeds):
        for row in table.rows:
            if (row.label, str(seed)) in done or row.method == "teacher":
                continue
            if row.method not in registered or (methods and row.method not in methods):
                continue
            start = time.time()
            run = {"table": table.name, "row": row.label, "method": row.method,
                   "seed": str(seed), "teacher": fingerprint}
            cfg = student_preset.with_overrides(
                method=row.method, dataset=table.dataset, teacher=teacher_path,
                student_depth=table.student_depth,
                student_width=row.student_width or table.student_width,
                epochs=budget.student_epochs or None, steps=budget.student_steps,
                batch_size=budget.batch_size, seed=seed, steps_per_epoch=steps_cap,
                hparams={"group_size": table.group_size},
                output=os.path.join(model_dir, f"{row.method}_x{row.student_width or table.student_width:g}"
                                               f"_seed{seed}.keras"))
            # The budget's subsets replace the preset's, `None` (all images) included.
            cfg = dataclasses.replace(cfg, train_take=budget.train_take,
                                      eval_take=budget.eval_take)
            try:
                result = training.distill(cfg, verbose=verbose)
            except ValueError as error:
                # A method that cannot run on this pair (e.g. FSP with a
                # thinner student) is reported, not fatal to the table.
                runs.append({**run, "params": "", "last_accuracy": "", "top5_accuracy": "",
                             "seconds": f"{time.time() - start:.1f}",
                             "status": f"n/a: {str(error).splitlines()[0]}"})
                _write_csv(runs_path, runs, FIELDS)
                log(f"{row.label} seed {seed}: not applicable: {error}")
                continue
            record(run, result, start)
    return write_report()
