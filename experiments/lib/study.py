"""Where does KR beat the student alone? A resumable study on Fashion-MNIST.

The paper (Sec. 4.2) claims KR matters most for thin students, little data
and distorted inputs (T-CIFAR100). This module runs those regimes side by
side with equal budgets per method, on the one real dataset available
offline:

1. **select** hyper-parameters on a validation split carved from the
   training images (never the test split): each method's student learning
   rate, and KR's `mu`, on the reference cell, one seed;
2. **grid**: every method with its selected setting, in every cell, over
   seeds, scored on the test split;
3. **ablations**: one-line hypotheses about KR (pre-ReLU taps, aggregator
   warm-up, knowledge lr, `mu` schedule, SRP's boost / floor / target,
   raw-map matching) as extra rows in the regimes the paper cares about.

Every run appends one line to `<results_dir>/kr_study.runs.csv`; a rerun
skips what is there, so an interrupted study resumes. A run's seed fixes the
student's initial weights and its data order, whatever the method and
whatever ran before in the process. Before every evaluation, the student's
batch-norm statistics are re-estimated on `precise_bn_samples` training
images (precise BN; 0 = off), alike for every method; each row records the
setting, and a study reads only the rows of its own setting. `report` aggregates
the runs into `kr_study.md` / `kr_study.csv` and a plot of each method's
gain over the student alone.

The teachers (ResNet-20, one on clean and one on distorted images) train
once on the first 55,000 training images and are cached in
`saved_models/`; students train on the first `train_size` images, the
validation split is the last 5,000 training images.
"""

import csv
import dataclasses
import itertools
import json
import os
import time

import keras
import numpy as np
import tensorflow as tf

from kr_keras import data
from kr_keras.callbacks import recompute_batch_norm_statistics
from kr_keras import distillers
from kr_keras.models import cifar_resnet
from experiments.lib import io
from experiments.lib.distillers import takes_knowledge_optimizer

VAL_SIZE = 5_000
TEACHER_TRAIN = 55_000
FIELDS = ("stage", "cell", "variant", "method", "seed", "split", "accuracy", "seconds",
          "hparams", "precise_bn")
PRECISE_BN_SAMPLES = 2048
BATCH_SIZE = 128


def noise_label(distortion):
    """`"clean"` or `"noise<sigma>"`: the name of an input distortion."""
    return f"noise{distortion:g}" if distortion else "clean"


def teacher_path(distortion, epochs=None, model_dir="saved_models"):
    """Where the teacher for `distortion` is cached (`epochs`: default
    `TEACHER_EPOCHS`)."""
    epochs = TEACHER_EPOCHS if epochs is None else epochs
    return os.path.join(model_dir, f"study_teacher_r20_{noise_label(distortion)}_e{epochs}.keras")


@dataclasses.dataclass(frozen=True)
class Cell:
    """A regime: training-set size, epochs, student width, input noise."""

    train_size: int
    epochs: int
    width: float
    distortion: float = 0.0

    @property
    def key(self):
        return f"n{self.train_size}_e{self.epochs}_w{self.width:g}_{noise_label(self.distortion)}"


@dataclasses.dataclass(frozen=True)
class Variant:
    """A method with its hyper-parameters (`hparams` as sorted items)."""

    label: str
    method: str
    student_lr: float = 0.05
    knowledge_lr: float = 0.1
    hparams: tuple = ()

    def with_(self, label=None, **changes):
        hparams = dict(self.hparams)
        fields = {}
        for k, v in changes.items():
            if k in ("student_lr", "knowledge_lr"):
                fields[k] = v
            else:
                hparams[k] = v
        return dataclasses.replace(self, label=label or self.label,
                                   hparams=tuple(sorted(hparams.items())), **fields)


# The regimes: the paper's (thin, small, distorted) and the project's
# earlier table regime (12k images, 4 epochs, width 0.75) for contrast.
REFERENCE = Cell(2_000, 16, 0.25)
CELLS = (
    REFERENCE,
    Cell(2_000, 16, 0.25, distortion=1.0),
    Cell(12_000, 4, 0.25),
    Cell(12_000, 4, 0.75),
    Cell(12_000, 4, 0.25, distortion=1.0),
    Cell(55_000, 4, 0.25),
)
# What runs, in order, so that a study cut short has filled the regimes the
# paper cares about first: (stage, index into CELLS).
PLAN = (("grid", 0), ("ablation", 0), ("grid", 1), ("grid", 2), ("grid", 3),
        ("ablation", 1), ("grid", 4), ("grid", 5))
# Ablations run in this order (most informative first), so a study cut
# short has the first ones.
METHODS = ("ce", "kd", "kr_dense", "kr", "kr+kd")
LR_GRID = (0.05, 0.1)
MU_GRID = (0.1, 0.3, 1.0)
TEACHER_EPOCHS = 3


def _pre_relu(model):
    return [l.name.replace("_out", "_add") for l in model.layers
            if l.name.startswith("stage") and l.name.endswith("_out")]


def ablations(kr, kr_kd=None):
    """One-line hypotheses about KR, each a variant of the selected `kr`
    (or of the selected `kr_kd`, when given, for the KR+KD rows)."""
    kr_kd_rows = () if kr_kd is None else (
        (kr_kd.with_("KR+KD, simultaneous steps", refresh_knowledge=False),
         "as above, with KD's posterior term"),)
    return (
        (kr.with_("KR, pre-ReLU taps", pre_relu=True),
         "matching block sums before the ReLU keeps the negative side the ReLU erases "
         "(Heo et al. 2019)"),
        (kr.with_("KR, knowledge lr x5", knowledge_lr=kr.knowledge_lr * 5),
         "the knowledge lags the student: a faster aggregator closes the gap"),
        (kr.with_("KR, mu ramp 1 epoch", prior_warmup_steps="epoch"),
         "a mu schedule: the aggregators fit the student before it is pulled"),
        (kr.with_("KR, raw maps", feature_normalization="none"),
         "matching raw maps (the literal reading) instead of unit-norm maps"),
        (kr.with_("KR, boost 1", boost=1.0),
         "boosting dominant residuals is what helps (vs. only filtering)"),
        (kr.with_("KR, floor 0.5", floor=0.5),
         "filtering small residuals entirely is what helps (vs. damping them)"),
        (kr.with_("KR, target_inactive 0.25", target_inactive=0.25),
         "SRP filters less"),
        (kr.with_("KR, simultaneous steps", refresh_knowledge=False),
         "the student may match the knowledge from before the aggregators' step "
         "(one aggregator forward fewer per batch)"),
    ) + kr_kd_rows


# ------------------------------------------------------------------ data
_ARRAYS = {}


def arrays(distortion, split):
    """Whole split as numpy arrays (cached in-process)."""
    key = (distortion, split)
    if key not in _ARRAYS:
        ds = data.load("fashion_mnist", split, batch_size=2048, augment=False, shuffle=False,
                       distortion_sigma=distortion, seed=0)
        xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
        _ARRAYS[key] = (np.concatenate(xs), np.concatenate(ys))
    return _ARRAYS[key]


def teacher(distortion, epochs=TEACHER_EPOCHS, model_dir="saved_models", verbose=0):
    """A ResNet-20 trained on the first 55k training images (cached).

    The clean teacher trains `epochs` epochs from scratch; a teacher for
    distorted inputs starts from the clean one and trains one epoch on the
    distorted images (a budget cut: 2 CPU cores)."""
    path = teacher_path(distortion, epochs, model_dir)
    if os.path.exists(path):
        return keras.models.load_model(path)
    x, y = arrays(distortion, "train")
    keras.utils.set_random_seed(1234)
    if distortion:
        model = teacher(0.0, epochs, model_dir, verbose)
        epochs, learning_rate = 1, 0.02
    else:
        model = cifar_resnet(20, input_shape=x.shape[1:])
        learning_rate = 0.1
    steps = epochs * (TEACHER_TRAIN // 128)
    model.compile(optimizer=keras.optimizers.SGD(
        keras.optimizers.schedules.CosineDecay(learning_rate, steps), momentum=0.9,
        nesterov=True),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"])
    model.fit(x[:TEACHER_TRAIN], y[:TEACHER_TRAIN], batch_size=128, epochs=epochs,
              verbose=verbose)
    os.makedirs(model_dir, exist_ok=True)
    model.save(path + ".tmp.keras")
    os.replace(path + ".tmp.keras", path)
    return model


# ------------------------------------------------------------------ runs
def train_dataset(x, y, seed, batch_size=BATCH_SIZE):
    """A run's training batches: all of `(x, y)`, shuffled with the op-level
    seed `seed` and reshuffled every epoch (iteration).

    With the global seed set to the run's seed first (`run` does), the
    order depends on `seed` only: not on the random ops run since (building
    the student and the method's helpers differ between methods), nor on
    what ran before in the process.
    """
    return (tf.data.Dataset.from_tensor_slices((x, y))
            .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size))


def build_student(cell, input_shape, seed):
    """The run's ResNet-8 student, its initial weights a function of `seed`."""
    keras.utils.set_random_seed(seed)
    return cifar_resnet(8, width_multiplier=cell.width, input_shape=input_shape)


def run(cell, variant, seed, split, teacher_model, precise_bn_samples=PRECISE_BN_SAMPLES):
    """Trains one student; returns its accuracy on `split` ('val'/'test').

    Before the evaluation the student's batch-norm statistics are
    re-estimated on `precise_bn_samples` of its training images (all of
    them when there are fewer; 0: not at all)."""
    x, y = arrays(cell.distortion, "train")
    x_train, y_train = x[:cell.train_size], y[:cell.train_size]
    if split == "val":
        x_eval, y_eval = x[-VAL_SIZE:], y[-VAL_SIZE:]
    else:
        x_eval, y_eval = arrays(cell.distortion, "test")
    student = build_student(cell, x.shape[1:], seed)
    hparams = dict(variant.hparams)
    steps_per_epoch = cell.train_size // BATCH_SIZE
    total = steps_per_epoch * cell.epochs
    if hparams.pop("pre_relu", False):
        hparams["teacher_layers"] = _pre_relu(teacher_model)
        hparams["student_layers"] = _pre_relu(student)
    if hparams.get("prior_warmup_steps") == "epoch":
        hparams["prior_warmup_steps"] = steps_per_epoch
    distiller = distillers.build_distiller(variant.method, teacher_model, student, **hparams)
    optimizer = keras.optimizers.SGD(
        keras.optimizers.schedules.CosineDecay(variant.student_lr, total), momentum=0.9,
        nesterov=True)
    kwargs = {}
    if takes_knowledge_optimizer(distiller):
        kwargs["auxiliary_optimizer"] = keras.optimizers.SGD(
            keras.optimizers.schedules.CosineDecay(variant.knowledge_lr, total), momentum=0.9)
    distiller.compile(optimizer=optimizer, metrics=["accuracy"], **kwargs)
    start = time.time()
    distiller.fit(train_dataset(x_train, y_train, seed), epochs=cell.epochs, verbose=0)
    seconds = time.time() - start
    if precise_bn_samples:
        # A pipeline of its own: the training order stays what it was.
        recompute_batch_norm_statistics(distiller.student, train_dataset(x_train, y_train, seed),
                                        precise_bn_samples)
    logits = distiller.student.predict(x_eval, batch_size=1024, verbose=0)
    accuracy = float(np.mean(np.argmax(logits, -1) == y_eval))
    return accuracy, seconds


class Runs:
    """The append-only run cache `kr_study.runs.csv`.

    Args:
        results_dir: Folder of the cache.
        precise_bn_samples: The study's precise-BN setting: new runs use
            it, and `rows` holds only the rows recorded with it (rows
            without the column predate precise BN: 0).
    """

    def __init__(self, results_dir, precise_bn_samples=PRECISE_BN_SAMPLES):
        if isinstance(precise_bn_samples, bool) or not isinstance(precise_bn_samples, int) \
                or precise_bn_samples < 0:
            raise ValueError("`precise_bn_samples` must be an integer >= 0 (0 = off). "
                             f"Received: precise_bn_samples={precise_bn_samples!r}")
        self.path = os.path.join(results_dir, "kr_study.runs.csv")
        self.precise_bn_samples = precise_bn_samples
        os.makedirs(results_dir, exist_ok=True)
        all_rows = []
        if os.path.exists(self.path):
            with open(self.path) as f:
                reader = csv.DictReader(f)
                all_rows = list(reader)
                header = tuple(reader.fieldnames or ())
            if header != FIELDS:
                # An older cache: rewrite it with today's columns.
                for row in all_rows:
                    row.setdefault("precise_bn", "0")
                with open(self.path, "w", newline="") as f:
                    writer = csv.DictWriter(f, FIELDS, restval="")
                    writer.writeheader()
                    writer.writerows(all_rows)
        self.rows = [r for r in all_rows if r.get("precise_bn") == str(precise_bn_samples)]

    def find(self, stage, cell, variant, seed, split):
        for row in self.rows:
            if (row["stage"], row["cell"], row["variant"], row["seed"], row["split"]) == (
                    stage, cell.key, variant.label, str(seed), split):
                return row
        return None

    def add(self, row):
        row = {"precise_bn": self.precise_bn_samples, **row}
        io.append_csv_row(self.path, FIELDS, row)
        self.rows.append({k: str(v) for k, v in row.items()})


def ensure(runs, stage, cell, variant, seed, split, teachers, log=print):
    """The accuracy of one run, from the cache or trained now."""
    row = runs.find(stage, cell, variant, seed, split)
    if row is None:
        if cell.distortion not in teachers:
            teachers[cell.distortion] = teacher(cell.distortion)
        accuracy, seconds = run(cell, variant, seed, split, teachers[cell.distortion],
                                runs.precise_bn_samples)
        row = {"stage": stage, "cell": cell.key, "variant": variant.label,
               "method": variant.method, "seed": seed, "split": split,
               "accuracy": f"{accuracy:.4f}", "seconds": f"{seconds:.1f}",
               "hparams": json.dumps(dict(variant.hparams, student_lr=variant.student_lr,
                                          knowledge_lr=variant.knowledge_lr))}
        runs.add(row)
        log(f"[{stage}] {cell.key} {variant.label} seed={seed} {split}: "
            f"{accuracy:.4f} ({seconds:.0f} s)")
    return float(row["accuracy"])


def record_teachers(runs, model_dir="saved_models", log=print):
    """Adds each cached teacher's test accuracy to the runs (once per file).

    The teachers are not committed (a clone retrains them with the same
    recipe and seed, which on CPU gives close but not bit-identical
    weights); the rows say how good the teachers were when the report was
    written."""
    for distortion in sorted({cell.distortion for cell in CELLS}):
        path = teacher_path(distortion, model_dir=model_dir)
        key = f"teacher_{noise_label(distortion)}"
        if not os.path.exists(path) or any(
                r["stage"] == "teacher" and r["cell"] == key for r in runs.rows):
            continue
        x, y = arrays(distortion, "test")
        logits = keras.models.load_model(path).predict(x, batch_size=1024, verbose=0)
        accuracy = float(np.mean(np.argmax(logits, -1) == y))
        runs.add({"stage": "teacher", "cell": key, "variant": "teacher", "method": "teacher",
                  "seed": 1234, "split": "test", "accuracy": f"{accuracy:.4f}", "seconds": "",
                  "hparams": json.dumps({"file": os.path.basename(path)})})
        log(f"[teacher] {key}: {accuracy:.4f}")


def select(runs, teachers, log=print):
    """Per-method settings chosen on the validation split of REFERENCE."""
    best = {}

    def pick(candidates):
        scored = [(ensure(runs, "select", REFERENCE, v, 0, "val", teachers, log), -i, v)
                  for i, v in enumerate(candidates)]
        return max(scored)[2]

    for method in ("ce", "kd"):
        best[method] = pick([Variant(f"{method} lr={lr:g}", method, lr) for lr in LR_GRID])
    kr_lr = best["ce"].student_lr
    kr = pick([Variant(f"kr lr={kr_lr:g} mu={mu:g}", "kr", kr_lr, hparams=(("mu", mu),))
               for mu in MU_GRID])
    best["kr"] = kr
    best["kr_dense"] = dataclasses.replace(kr, method="kr_dense",
                                           label=kr.label.replace("kr", "kr_dense", 1))
    best["kr+kd"] = dataclasses.replace(kr, method="kr+kd", student_lr=best["kd"].student_lr)
    return {m: dataclasses.replace(v, label=m) for m, v in best.items()}


def grid(runs, teachers, chosen, seeds, cells=CELLS, log=print):
    for cell, seed, method in itertools.product(cells, range(seeds), METHODS):
        ensure(runs, "grid", cell, chosen[method], seed, "test", teachers, log)


def run_ablations(runs, teachers, chosen, seeds, cells=CELLS[:2], log=print, labels=None):
    """Runs the ablations (only those whose label is in `labels`, if given)."""
    rows = ablations(chosen["kr"], chosen.get("kr+kd"))
    if labels:
        unknown = set(labels) - {variant.label for variant, _ in rows}
        if unknown:
            raise ValueError(f"Unknown ablations {sorted(unknown)}; the ablations are "
                             f"{[variant.label for variant, _ in rows]}")
        rows = [row for row in rows if row[0].label in labels]
    for cell, (variant, _), seed in itertools.product(cells, rows, range(seeds)):
        ensure(runs, "ablation", cell, variant, seed, "test", teachers, log)


# ---------------------------------------------------------------- report
def _stats(values):
    values = np.asarray(values, float)
    std = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
    return float(values.mean()), std, len(values)


def summarize(runs, stage, seeds=None):
    """{cell: {variant: (mean, std, n)}} of a stage's test runs, in percent
    (only the runs of `seeds`, a set of seed strings, when given)."""
    table = {}
    for row in runs.rows:
        if seeds is not None and row["seed"] not in seeds:
            continue
        if row["stage"] == stage and row["split"] == "test":
            table.setdefault(row["cell"], {}).setdefault(row["variant"], []).append(
                100 * float(row["accuracy"]))
    return {c: {v: _stats(a) for v, a in vs.items()} for c, vs in table.items()}


def _cell_order(keys):
    order = [c.key for c in CELLS]
    return sorted(keys, key=lambda k: order.index(k) if k in order else len(order))


def report(runs, results_dir, figure_path, command, chosen=None):
    """Writes kr_study.md / kr_study.csv and the gain plot; returns the md."""
    grid_stats = summarize(runs, "grid")
    ablation_stats = summarize(runs, "ablation")
    lines = ["# KR study: where does KR beat the student alone?", "",
             f"Written by `{command}` from `kr_study.runs.csv` (one line per run).",
             "Fashion-MNIST; teacher ResNet-20 (trained once on the first 55k training "
             "images; the distorted-input teacher is the clean one trained one more epoch on "
             "distorted images); student ResNet-8 at the cell's width, trained on "
             "the first `n` training images for `e` epochs (batch 128, SGD momentum 0.9 "
             "Nesterov, cosine decay, no augmentation); test accuracy in % on the 10k test "
             "images, mean ± std over seeds (n = seeds). `noise1` adds the fixed Gaussian "
             "distortion σ = 1 in the normalised input space to train and test images. "
             "Gain = method − CE; **bold** where the gain exceeds the pooled seed std "
             "sqrt((s_m² + s_ce²) / 2).", "",
             (f"Before every evaluation (validation and test), each student's batch-norm "
              f"statistics are re-estimated on {runs.precise_bn_samples} of its training "
              "images (all `n` when fewer; precise BN, "
              "`kr_keras.callbacks.recompute_batch_norm_statistics`), alike for every method."
              if runs.precise_bn_samples else
              "Students are evaluated with the batch-norm moving averages of training "
              "(no precise BN)."), ""]
    teacher_rows = [r for r in runs.rows if r["stage"] == "teacher"]
    if teacher_rows:
        lines += ["Teachers' test accuracy (recorded by `record_teachers` when the report "
                  "was written; the teacher files are not committed and a clone retrains "
                  "them with the same recipe and seed): " + "; ".join(
                      f"{r['cell'].split('_', 1)[1]} {100 * float(r['accuracy']):.2f}"
                      for r in teacher_rows) + ".", ""]
    if chosen:
        lines += ["## Settings chosen on the validation split", "",
                  "Chosen on the last 5,000 training images (never the test split), cell "
                  f"`{REFERENCE.key}`, seed 0: the grid over student lr {list(LR_GRID)} for "
                  f"CE and KD, then `mu` in {list(MU_GRID)} for KR at CE's lr; KR-Dense "
                  "uses KR's setting, KR+KD KR's `mu` at KD's lr.", "",
                  "| method | student lr | knowledge lr | hyper-parameters |",
                  "|---|---:|---:|---|"]
        for method in METHODS:
            v = chosen[method]
            lines.append(f"| {method} | {v.student_lr:g} | "
                         f"{v.knowledge_lr:g} | {dict(v.hparams) or ''} |")
        val = [r for r in runs.rows if r["stage"] == "select"]
        lines += ["", "Validation accuracy of every candidate: " + "; ".join(
            f"{r['variant']} {100 * float(r['accuracy']):.2f}" for r in val), ""]
    csv_rows = []
    lines += ["## Methods in each regime", "",
              "| cell | " + " | ".join(METHODS) + " | KR gain | KR+KD − KD |",
              "|---|" + "---:|" * (len(METHODS) + 2)]
    for cell in _cell_order(grid_stats):
        stats = grid_stats[cell]
        cells = []
        for method in METHODS:
            if method in stats:
                m, s, n = stats[method]
                cells.append(f"{m:.2f} ± {s:.2f} (n={n})")
                csv_rows.append({"stage": "grid", "cell": cell, "variant": method,
                                 "mean": f"{m:.2f}", "std": f"{s:.2f}", "n": n})
            else:
                cells.append("–")
        lines.append(f"| {cell} | " + " | ".join(cells) + " | "
                     + _gain(stats, "kr", "ce") + " | " + _gain(stats, "kr+kd", "kd") + " |")
    if ablation_stats:
        lines += ["", "## Ablations of KR (one hypothesis per row)", "",
                  "Each row's gains are against CE and against the method it varies "
                  "(KR, or KR+KD for the KR+KD rows) over the same seeds.", "",
                  "| cell | variant | hypothesis | accuracy | − CE | − its method |",
                  "|---|---|---|---:|---:|---:|"]
        hypotheses = dict((v.label, h) for v, h in ablations(
            chosen["kr"], chosen.get("kr+kd"))) if chosen else {}
        for cell in _cell_order(ablation_stats):
            for variant, (m, s, n) in ablation_stats[cell].items():
                # Compare with CE and the varied method over the same seeds.
                own = [r for r in runs.rows if r["stage"] == "ablation"
                       and r["cell"] == cell and r["variant"] == variant]
                seeds = {r["seed"] for r in own}
                base = summarize(runs, "grid", seeds).get(cell, {})
                stats = dict(base, **{variant: (m, s, n)})
                lines.append(f"| {cell} | {variant} | {hypotheses.get(variant, '')} | "
                             f"{m:.2f} ± {s:.2f} (n={n}) | {_gain(stats, variant, 'ce')} | "
                             f"{_gain(stats, variant, own[0]['method'])} |")
                csv_rows.append({"stage": "ablation", "cell": cell, "variant": variant,
                                 "mean": f"{m:.2f}", "std": f"{s:.2f}", "n": n})
    text = "\n".join(lines) + "\n"
    with open(os.path.join(results_dir, "kr_study.md"), "w") as f:
        f.write(text)
    with open(os.path.join(results_dir, "kr_study.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, ("stage", "cell", "variant", "mean", "std", "n"))
        writer.writeheader()
        writer.writerows(csv_rows)
    if figure_path and grid_stats:
        plot_gains(grid_stats, figure_path)
    return text


def _gain(stats, method, base):
    if method not in stats or base not in stats:
        return "–"
    (m, s, _), (mb, sb, _) = stats[method], stats[base]
    gain = m - mb
    pooled = float(np.sqrt((s ** 2 + sb ** 2) / 2))
    text = f"{gain:+.2f}"
    return f"**{text}**" if np.isfinite(pooled) and gain > pooled else text


def plot_gains(grid_stats, path):
    """Bar chart: each method's gain over CE per cell, seed-std error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = _cell_order(grid_stats)
    methods = [m for m in METHODS if m != "ce"]
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(cells)), 4))
    width = 0.8 / len(methods)
    for i, method in enumerate(methods):
        gains, errors = [], []
        for cell in cells:
            stats = grid_stats[cell]
            if method in stats and "ce" in stats:
                (m, s, _), (mb, sb, _) = stats[method], stats["ce"]
                gains.append(m - mb)
                errors.append(float(np.sqrt(np.nan_to_num(s) ** 2 + np.nan_to_num(sb) ** 2)))
            else:
                gains.append(np.nan)
                errors.append(0.0)
        xs = np.arange(len(cells)) + (i - (len(methods) - 1) / 2) * width
        ax.bar(xs, gains, width, yerr=errors, capsize=2, label=method)
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_xticks(np.arange(len(cells)))
    ax.set_xticklabels(cells, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("test accuracy − student alone (points)")
    ax.set_title("Gain over the student alone\n(error bars: std of the difference over seeds)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
