"""The README's demo: the student alone, KD, KR and KR + KD, one table.

`run_demo` trains the students from the shipped teacher
(`load_or_train_teacher`), `run_seeds` repeats them over seeds, and
`write_report` quotes each paired difference with its verdict over those
seeds. The design: docs/experiments.md, "demo".
"""

import csv
import dataclasses
import hashlib
import json
import os
import statistics
import time

import keras

from kr_keras import data
from experiments.lib import io
from experiments.lib.distillers import compile_distiller
from experiments.lib.stats import control_of
from experiments.lib.stats import t_interval
from experiments.lib.stats import verdict
from kr_keras.distillers import build_distiller
from kr_keras.models import cifar_resnet
from kr_keras.models import weights_fingerprint


@dataclasses.dataclass
class DemoConfig:
    """Budget and models of the demo (defaults: ~10 min on 2 CPU cores with
    the shipped teacher)."""

    dataset: str = "fashion_mnist"
    # The teacher (shipped in saved_models/; retrained only when one of these changes).
    teacher_depth: int = 20
    teacher_epochs: int = 3
    teacher_batch_size: int = 128
    teacher_train_examples: int = None  # None: the whole training split.
    teacher_lr: float = 0.05
    teacher_seed: int = 0
    # The students.
    student_depth: int = 8
    student_width: float = 0.75
    student_epochs: int = 3
    batch_size: int = 128
    train_examples: int = 20000  # The first 20k training images (None: all 60k).
    test_examples: int = None  # None: the whole test split (10k).
    # One learning rate for every student (the paired study tunes it per method);
    # 0.01 left the short demo budget under-trained (68.5% alone, 12k images x 3 epochs).
    student_lr: float = 0.05
    knowledge_lr: float = 0.1
    # Besides the student alone ("ce"), which is always trained.
    methods: str = "kd,kr,kr+kd"  # comma-separated registry names
    mu: float = 0.1  # KRDistiller's default (results/paired_study.md: KR + KD's pick on validation)
    gamma: float = 1.0
    seed: int = 0  # The students' initial weights and data order.
    teacher_dir: str = "saved_models"  # Teachers: <dir>/demo_teacher_<hash>.keras.
    output: str = "results/demo.md"  # The table, with the command and config ("": none).
    seeds_file: str = "results/demo_seeds.csv"  # Multi-seed runs (table beside it, .md).
    verbose: int = 1  # Keras' progress bars (0: none).


# The `DemoConfig` fields that decide the teacher's weights.
TEACHER_FIELDS = ("dataset", "teacher_depth", "teacher_epochs", "teacher_batch_size",
                  "teacher_train_examples", "teacher_lr", "teacher_seed")
# Bump when `load_or_train_teacher`'s training code changes (optimizer, schedule, ...).
TEACHER_RECIPE = "sgd-momentum0.9-cosine-v1"
# The `DemoConfig` fields that do not change the students' results (beside the
# seed, which the multi-seed runs vary).
_NOT_SETTING = ("seed", "teacher_dir", "output", "seeds_file", "verbose")
# The paired differences the table reports: (method, control).
PAIRS = tuple((m, control_of(m)) for m in ("kd", "kr", "kr+kd"))
_LABELS = {"ce": "Student alone", "kd": "Student KD", "kr": "Student KR",
           "kr+kd": "Student KR + KD"}
_SHORT = {"ce": "CE", "kd": "KD", "kr": "KR", "kr+kd": "KR+KD"}


def _digest(fields):
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


def teacher_fields(config):
    """The settings that decide the teacher's weights (the cache key's input)."""
    return {**{f: getattr(config, f) for f in TEACHER_FIELDS}, "recipe": TEACHER_RECIPE}


def teacher_cache_path(config):
    """Where `run_demo` keeps the teacher of `config`.

    `<teacher_dir>/demo_teacher_<hash>.keras`, the hash being the first 12
    hex digits of the SHA-256 of `teacher_fields(config)`.

    Example:

    >>> teacher_cache_path(DemoConfig()) != teacher_cache_path(DemoConfig(teacher_epochs=1))
    True
    """
    return os.path.join(config.teacher_dir, f"demo_teacher_{_digest(teacher_fields(config))}.keras")


def setting_key(config, teacher_fingerprint):
    """The key of the students' setting: every config field that changes
    their results but the seed, and the teacher's fingerprint. Multi-seed runs
    count for a one-seed demo only under the same key."""
    fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
              if f.name not in _NOT_SETTING}
    return _digest({**fields, "teacher": teacher_fingerprint})


def _sgd(lr):
    return keras.optimizers.SGD(lr, momentum=0.9)


def _cosine(lr, steps):
    return keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(1, steps))


def _evaluate(model, test_ds):
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return float(model.evaluate(test_ds, verbose=0, return_dict=True)["accuracy"])


def _datasets(config):
    info = data.info(config.dataset)

    def teacher_train_ds():
        return data.load(config.dataset, "train", config.teacher_batch_size,
                         seed=config.teacher_seed, take=config.teacher_train_examples)

    def student_train_ds(seed):
        return data.load(config.dataset, "train", config.batch_size, seed=seed,
                         take=config.train_examples)

    test_ds = data.load(config.dataset, info.eval_split, 256, take=config.test_examples)
    return info, teacher_train_ds, student_train_ds, test_ds


def _steps(examples, batch_size, info):
    return min(examples or info.split_sizes["train"], info.split_sizes["train"]) // batch_size


def read_teacher_record(config):
    """The record beside the teacher of `config` (`<path>.json`), or `None`."""
    record = teacher_cache_path(config) + ".json"
    if not os.path.exists(record):
        return None
    with open(record) as f:
        return json.load(f)


def load_or_train_teacher(config, train_ds=None, test_ds=None, steps_per_epoch=None,
                          log=print, command=None):
    """The teacher of `config`, loaded from `teacher_cache_path(config)` or
    trained and saved there (without optimizer state) beside its record.

    A file that does not match its recorded fingerprint or the dataset's
    shapes is retrained.

    Args:
        config: A `DemoConfig`.
        train_ds, test_ds: The teacher's training and test pipelines
            (default: from `config`).
        steps_per_epoch: Batches per epoch of `train_ds` (default: from
            `config`).
        log: Where progress lines go.
        command: The command line recorded as the one that trained it.

    Returns:
        `(teacher, record, cached)`: `record` is the dict of `<path>.json`.
    """
    info = data.info(config.dataset)
    shape, classes = tuple(info.image_shape), info.num_classes
    if train_ds is None:
        _, teacher_train_ds, _, default_test_ds = _datasets(config)
        train_ds = teacher_train_ds()
        test_ds = default_test_ds if test_ds is None else test_ds
    if steps_per_epoch is None:
        steps_per_epoch = _steps(config.teacher_train_examples, config.teacher_batch_size, info)
    path = teacher_cache_path(config)
    record = read_teacher_record(config)
    if os.path.exists(path):
        teacher = keras.models.load_model(path)
        fits = (tuple(teacher.inputs[0].shape[1:]) == shape
                and teacher.outputs[0].shape[-1] == classes)
        fingerprint = weights_fingerprint(teacher)
        if not fits:
            log(f"Teacher {path} does not fit {shape} -> {classes} classes; retraining.")
        elif record is not None and record.get("fingerprint") not in (None, fingerprint):
            log(f"Teacher {path} does not match its recorded fingerprint "
                f"({fingerprint[:12]} != {record['fingerprint'][:12]}); retraining.")
        else:
            record = record or {"config": teacher_fields(config), "fingerprint": fingerprint}
            log(f"Loaded teacher {path} (weights SHA-256 {fingerprint[:12]})")
            return teacher, record, True
    else:
        log(f"No teacher at {path}: training it.")
    keras.utils.set_random_seed(config.teacher_seed)
    teacher = cifar_resnet(config.teacher_depth, num_classes=classes, input_shape=shape)
    teacher.compile(
        optimizer=_sgd(_cosine(config.teacher_lr, config.teacher_epochs * steps_per_epoch)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    log(f"Training teacher ResNet-{config.teacher_depth} ({config.teacher_epochs} epochs)")
    start = time.time()
    teacher.fit(train_ds, epochs=config.teacher_epochs, verbose=config.verbose)
    seconds = time.time() - start
    load = os.getloadavg()
    with io.atomic_path(path, suffix=".keras") as tmp:
        teacher.save(tmp, include_optimizer=False)
    teacher = keras.models.load_model(path)  # What later runs will load.
    import tensorflow as tf

    record = {
        "config": teacher_fields(config),
        "command": command or "python -m experiments.demo --teacher_only",
        "seconds": round(seconds, 1),
        "load_average_1m": round(load[0], 2),
        "test_accuracy": _evaluate(teacher, test_ds) if test_ds is not None else None,
        "fingerprint": weights_fingerprint(teacher),
        "file_bytes": os.path.getsize(path),
        "versions": {"keras": keras.__version__, "tensorflow": tf.__version__},
    }
    io.write_text(path + ".json", json.dumps(record, indent=1, sort_keys=True) + "\n")
    return teacher, record, False


def build_student_distiller(method, teacher, student, config):
    """The distiller of `method` (a registry name): `ce` and `kd` with their
    defaults, the KR methods with `config.mu` and `config.gamma`."""
    if method in ("ce", "kd"):
        return build_distiller(method, teacher, student)
    # The registry gives kr+kd kd's CE and KD weights and temperature: KD is its control.
    return build_distiller(method, teacher, student, mu=config.mu, gamma=config.gamma)


def _methods(config):
    return ["ce"] + [m for m in config.methods.split(",") if m and m != "ce"]


def train_student(method, teacher, config, seed, train_ds, test_ds, steps_per_epoch, log=print):
    """Trains the student of `method` with `seed` (initial weights and data
    order) and returns `{"method", "model", "params", "accuracy", "seconds"}`."""
    info = data.info(config.dataset)
    keras.utils.set_random_seed(seed)  # The same initial student for every method.
    student = cifar_resnet(config.student_depth, width_multiplier=config.student_width,
                           num_classes=info.num_classes, input_shape=tuple(info.image_shape))
    distiller = build_student_distiller(method, teacher, student, config)
    steps = config.student_epochs * steps_per_epoch
    compile_distiller(distiller, _sgd(_cosine(config.student_lr, steps)),
                      _sgd(_cosine(config.knowledge_lr, steps)))
    name = f"{_LABELS.get(method, 'Student ' + method)} ResNet-{config.student_depth}x{config.student_width:g}"
    log(f"Training {name} ({config.student_epochs} epochs, seed {seed})")
    start = time.time()
    distiller.fit(train_ds, epochs=config.student_epochs, verbose=config.verbose)
    return {"method": method, "model": name, "params": student.count_params(),
            "accuracy": _evaluate(student, test_ds), "seconds": time.time() - start}


def run_demo(config=None, log=print):
    """Runs the demo and returns `(rows, teacher_record)`.

    Args:
        config: A `DemoConfig`; defaults to `DemoConfig()`.
        log: Where progress lines go.

    Returns:
        `rows`: `[{"model", "params", "accuracy", "seconds", ...}, ...]`, the
        teacher first (with `"cached"` and `"fingerprint"`), then one row per
        student (with `"method"`). `teacher_record`: its `<path>.json`.
    """
    config = config or DemoConfig()
    info, teacher_train_ds, student_train_ds, test_ds = _datasets(config)
    teacher, record, cached = load_or_train_teacher(config, teacher_train_ds(), test_ds, log=log)
    rows = [{
        "model": f"Teacher ResNet-{config.teacher_depth}",
        "params": teacher.count_params(),
        "accuracy": _evaluate(teacher, test_ds),
        "seconds": float(record.get("seconds", 0.0)),
        "cached": cached,
        "fingerprint": record["fingerprint"],
    }]
    steps = _steps(config.train_examples, config.batch_size, info)
    for method in _methods(config):
        rows.append(train_student(method, teacher, config, config.seed,
                                  student_train_ds(config.seed), test_ds, steps, log))
    return rows, record


def differences(accuracies):
    """`{(method, control): accuracy[method] - accuracy[control]}` in
    points (%) for the `PAIRS` both of whose methods are in `accuracies`."""
    return {(m, c): 100.0 * (accuracies[m] - accuracies[c])
            for m, c in PAIRS if m in accuracies and c in accuracies}


def _pair_label(pair):
    return f"{_SHORT.get(pair[0], pair[0])} − {_SHORT.get(pair[1], pair[1])}"


# ----------------------------------------------------------------  over seeds

_CSV_FIELDS = ("key", "teacher_fingerprint", "seed", "method", "accuracy", "seconds")


def read_seed_runs(path):
    """The rows of a multi-seed runs CSV (`[]` if there is none)."""
    if not path or not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return [{**row, "seed": int(row["seed"]), "accuracy": float(row["accuracy"]),
                 "seconds": float(row["seconds"])} for row in csv.DictReader(f)]


def seed_spread(runs, key):
    """Per `PAIRS` entry, over the seeds of `key` that ran both methods:
    `{pair: {"n", "mean", "std", "low", "high", "values", "verdict"}}`
    (points; std with n - 1; low/high the 95% t-interval of the mean;
    `verdict` by `experiments.lib.stats.verdict`; n >= 2 only)."""
    by_seed = {}
    for row in runs:
        if row["key"] == key:
            by_seed.setdefault(row["seed"], {})[row["method"]] = row["accuracy"]
    spread = {}
    for pair in PAIRS:
        values = [differences(acc)[pair] for _, acc in sorted(by_seed.items())
                  if pair in differences(acc)]
        if len(values) < 2:
            continue
        mean, low, high = t_interval(values)
        spread[pair] = {"n": len(values), "mean": mean, "std": statistics.stdev(values),
                        "low": low, "high": high, "values": values,
                        "verdict": verdict(*(_SHORT.get(m, m) for m in pair), values)}
    return spread


def seeds_markdown_path(csv_path):
    """The Markdown table beside a runs CSV (`x.csv` -> `x.md`)."""
    return os.path.splitext(csv_path)[0] + ".md"


def compare_with_seed_spread(diffs, config, teacher_fingerprint, runs=None):
    """One line per difference of `diffs` (this seed's) with the mean, 95%
    t-interval and verdict of that paired difference over the seeds in
    `config.seeds_file` of the same setting (`setting_key`), citing the
    file; or why there are none.

    Returns:
        `(lines, verdicts)`: `verdicts[pair]` is the `seed_spread` verdict,
        or `None` (no seeds for it).
    """
    csv_path = config.seeds_file
    cited = seeds_markdown_path(csv_path) if csv_path else None
    runs = read_seed_runs(csv_path) if runs is None else runs
    key = setting_key(config, teacher_fingerprint)
    spread = seed_spread(runs, key) if runs else {}
    lines, verdicts = [], {}
    if not runs:
        lines.append(f"No seeds to compare with: `{cited or 'no seeds file'}` is missing "
                     "(`python -m experiments.demo --seeds=5` writes it).")
    elif not any(row["key"] == key for row in runs):
        lines.append(f"No seeds to compare with: `{cited}` holds no runs of this "
                     f"setting (key {key}; it is for another config or teacher).")
    elif not spread:
        lines.append(f"No seeds to compare with yet: `{cited}` holds fewer than 2 "
                     f"seeds of this setting (key {key}).")
    for pair, diff in diffs.items():
        stats = spread.get(pair)
        verdicts[pair] = stats and stats["verdict"]
        if stats is None:
            lines.append(f"* {_pair_label(pair)} = {diff:+.2f} points: no other seeds.")
            continue
        lines.append(
            f"* {_pair_label(pair)} = {diff:+.2f} points; over {stats['n']} seeds "
            f"{stats['mean']:+.2f} (std {stats['std']:.2f}, 95% CI [{stats['low']:+.2f}, "
            f"{stats['high']:+.2f}]): **{stats['verdict']}** (`{cited}`).")
    return lines, verdicts


def format_seeds_report(runs, config, teacher_record, command):
    """The Markdown of a multi-seed study: per-seed accuracies and the
    paired differences' mean, std and 95% t-interval."""
    key = setting_key(config, teacher_record["fingerprint"])
    methods = _methods(config)
    by_seed = {}
    for row in runs:
        if row["key"] == key:
            by_seed.setdefault(row["seed"], {})[row["method"]] = row["accuracy"]
    lines = [
        "# Demo over seeds: its paired differences",
        "",
        f"Written by `{command}` (resumable: one row per run in "
        f"`{config.seeds_file}`). The one-seed demo (`make demo`) compares its "
        "differences with the seeds below when its setting key matches.",
        "",
        f"Setting key: `{key}`; teacher `{teacher_cache_path(config)}` "
        f"(weights SHA-256 `{teacher_record['fingerprint']}`).",
        f"Config (seed varies): `{json.dumps(dataclasses.asdict(config), sort_keys=True)}`.",
        "",
        "Test accuracy (%) per seed:",
        "",
        "| seed | " + " | ".join(_SHORT.get(m, m) for m in methods) + " |",
        "|---:|" + "---:|" * len(methods),
    ]
    for seed, acc in sorted(by_seed.items()):
        cells = [f"{100 * acc[m]:.2f}" if m in acc else "–" for m in methods]
        lines.append(f"| {seed} | " + " | ".join(cells) + " |")
    lines += ["", "Paired differences (points; same seed = same initial student and data order):",
              "", "| difference | n | per seed | mean | std | 95% t-interval | verdict |",
              "|---|---:|---|---:|---:|---|---|"]
    spread = seed_spread(runs, key)
    for pair in PAIRS:
        stats = spread.get(pair)
        if stats is None:
            lines.append(f"| {_pair_label(pair)} | <2 | | | | | |")
            continue
        values = ", ".join(f"{v:+.2f}" for v in stats["values"])
        lines.append(f"| {_pair_label(pair)} | {stats['n']} | {values} | {stats['mean']:+.2f} | "
                     f"{stats['std']:.2f} | [{stats['low']:+.2f}, {stats['high']:+.2f}] | "
                     f"{stats['verdict']} |")
    return "\n".join(lines) + "\n"


def run_seeds(config, seeds, command="python -m experiments.demo --seeds=5", log=print):
    """Trains the demo's students over `seeds` into `config.seeds_file` (one
    CSV row per run; the runs of the same setting key already there are
    skipped) and the Markdown table beside it, rewritten after every run.

    Returns:
        The Markdown path.
    """
    if not config.seeds_file:
        raise ValueError("run_seeds needs `seeds_file`.")
    info, teacher_train_ds, student_train_ds, test_ds = _datasets(config)
    teacher, record, _ = load_or_train_teacher(config, teacher_train_ds(), test_ds, log=log)
    key = setting_key(config, record["fingerprint"])
    md_path = seeds_markdown_path(config.seeds_file)
    steps = _steps(config.train_examples, config.batch_size, info)
    for seed in seeds:
        for method in _methods(config):
            runs = read_seed_runs(config.seeds_file)
            if any(r["key"] == key and r["seed"] == seed and r["method"] == method for r in runs):
                continue
            row = train_student(method, teacher, config, seed, student_train_ds(seed),
                                test_ds, steps, log)
            runs.append({"key": key, "teacher_fingerprint": record["fingerprint"], "seed": seed,
                         "method": method, "accuracy": row["accuracy"],
                         "seconds": round(row["seconds"], 1)})
            lines = [",".join(_CSV_FIELDS)] + [
                ",".join(str(r[f]) for f in _CSV_FIELDS) for r in runs]
            io.write_text(config.seeds_file, "\n".join(lines) + "\n")
            io.write_text(md_path, format_seeds_report(runs, config, record, command))
            log(f"seed {seed} {method}: {100 * row['accuracy']:.2f}% -> {md_path}")
    # Also when every run was cached: the table follows the code that renders it.
    return io.write_text(md_path, format_seeds_report(read_seed_runs(config.seeds_file), config,
                                                      record, command))


# ---------------------------------------------------------------- report

def format_table(rows):
    """A Markdown table of `run_demo`'s rows."""
    lines = ["| model | params | test accuracy | train time (s) |",
             "|---|---:|---:|---:|"]
    for row in rows:
        seconds = f"{row['seconds']:.0f}" + (" (shipped, not retrained)" if row.get("cached") else "")
        lines.append(f"| {row['model']} | {row['params']:,} | "
                     f"{row['accuracy']:.4f} | {seconds} |")
    return "\n".join(lines)


def format_differences(rows, config):
    """The paired differences of `rows` with their seeds' intervals and
    verdicts (`compare_with_seed_spread`), as Markdown lines."""
    accuracies = {r["method"]: r["accuracy"] for r in rows if "method" in r}
    fingerprint = rows[0].get("fingerprint", "")
    lines, _ = compare_with_seed_spread(differences(accuracies), config, fingerprint)
    return lines


def write_report(rows, config, path, command="python -m experiments.demo", wall_seconds=None,
                 teacher_record=None, load_average=None):
    """Writes `format_table(rows)`, the paired differences with their seeds'
    intervals, the teacher's record and the command and config that produced
    it to `path` (atomically).

    Returns:
        `path`.
    """
    wall = f" in {wall_seconds / 60:.1f} min wall time" if wall_seconds is not None else ""
    if load_average is not None:
        wall += f" (load average {load_average:.2f} at the end, 2 CPU cores)"
    lines = [
        "# Demo: student alone, KD, KR and KR + KD (teacher shipped)",
        "",
        f"Written by `{command}`{wall} (`make demo` runs it with the default flags).",
        f"Config: `{json.dumps(dataclasses.asdict(config), sort_keys=True)}`.",
        "",
        format_table(rows),
        "",
        "Paired differences (one seed; test accuracy points):",
        "",
        *format_differences(rows, config),
    ]
    if teacher_record:
        t = teacher_record
        accuracy = t.get("test_accuracy")
        lines += [
            "",
            "## The teacher",
            "",
            f"`{teacher_cache_path(config)}` ({t.get('file_bytes', 0) / 1e6:.1f} MB), trained by "
            f"`{t.get('command', '?')}` in {t.get('seconds', 0):.0f} s "
            f"(load average {t.get('load_average_1m', '?')}, 2 CPU cores; "
            f"versions {json.dumps(t.get('versions', {}), sort_keys=True)}).",
            f"Test accuracy: {accuracy:.4f}." if accuracy is not None else "Test accuracy: ?.",
            f"Weights fingerprint (SHA-256, `kr_keras.models.weights_fingerprint`): "
            f"`{t.get('fingerprint')}`.",
            f"Settings: `{json.dumps(t.get('config', {}), sort_keys=True)}`.",
        ]
    # The inputs beside it, so `rewrite_report` can redo the verdicts once the
    # seeds file has grown, without training again.
    io.write_text(os.path.splitext(path)[0] + ".json", json.dumps({
        "rows": rows, "config": dataclasses.asdict(config), "command": command,
        "wall_seconds": wall_seconds, "teacher_record": teacher_record,
        "load_average": load_average}, indent=1, sort_keys=True) + "\n")
    return io.write_text(path, "\n".join(lines) + "\n")


def rewrite_report(path, seeds_file=None):
    """Rewrites the report at `path` from the `.json` `write_report` left
    beside it (same rows, command and times), with the verdicts against the
    seeds file as it is now (`seeds_file`, default: the run's). No training.

    Returns:
        `path`.
    """
    with open(os.path.splitext(path)[0] + ".json") as f:
        saved = json.load(f)
    config = DemoConfig(**saved["config"])
    if seeds_file:
        config = dataclasses.replace(config, seeds_file=seeds_file)
    return write_report(saved["rows"], config, path, saved["command"], saved["wall_seconds"],
                        saved["teacher_record"], saved["load_average"])
