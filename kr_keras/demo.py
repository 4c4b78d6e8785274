"""The README's main job: teacher, student alone and KR student, one table.

Trains (or loads the cached) teacher ResNet-20 on Fashion-MNIST, then the
student ResNet-8x0.75 alone and with KR under the same budget (epochs,
batch, optimizer, seed), and reports test accuracy, parameter counts and
training time. `experiments/demo.py` is the absl binary over `run_demo`; it
prints the table and writes it to `results/demo.md` (`DemoConfig.output`).

The cached teacher's file name carries a short hash of everything that
decides its training (dataset, depth, epochs, batch, examples, lr, seed), so
a changed teacher flag trains a new teacher instead of reusing an old one
under the new label.
"""

import dataclasses
import hashlib
import json
import os
import time

import keras

from kr_keras import data
from experiments.lib import io
from kr_keras.distillers import build_distiller
from kr_keras.models import cifar_resnet


@dataclasses.dataclass
class DemoConfig:
    """Budget and models of the demo (defaults fit ~20 min on 2 CPU cores)."""

    dataset: str = "fashion_mnist"
    teacher_depth: int = 20
    student_depth: int = 8
    student_width: float = 0.75
    teacher_epochs: int = 3
    student_epochs: int = 4
    batch_size: int = 128
    train_examples: int = None  # None: the whole training split.
    teacher_lr: float = 0.05
    student_lr: float = 0.01
    knowledge_lr: float = 0.1
    # KR alone and KR with KD: in the KR study (results/kr_study.md) only the
    # combination beat the student alone.
    methods: str = "kr,kr+kd"  # comma-separated registry names
    mu: float = 0.1  # KRDistiller's default (chosen on validation data, results/kr_study.md)
    gamma: float = 1.0
    seed: int = 0
    teacher_dir: str = "saved_models"  # Cached teachers: <dir>/demo_teacher_<hash>.keras.
    output: str = "results/demo.md"  # The table, with the command and config ("": none).
    verbose: int = 1


# The `DemoConfig` fields that decide the teacher's weights.
TEACHER_FIELDS = ("dataset", "teacher_depth", "teacher_epochs", "batch_size", "train_examples",
                  "teacher_lr", "seed")


def teacher_cache_path(config):
    """Where `run_demo` caches the teacher of `config`.

    `<teacher_dir>/demo_teacher_<hash>.keras`, the hash being the first 12
    hex digits of the SHA-256 of `TEACHER_FIELDS`: two configs share a cached
    teacher only when they would train the same one.

    Example:

    >>> teacher_cache_path(DemoConfig()) != teacher_cache_path(DemoConfig(teacher_epochs=1))
    True
    """
    key = json.dumps({f: getattr(config, f) for f in TEACHER_FIELDS}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return os.path.join(config.teacher_dir, f"demo_teacher_{digest}.keras")


def _sgd(lr):
    return keras.optimizers.SGD(lr, momentum=0.9)


def _cosine(lr, steps):
    return keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(1, steps))


def _evaluate(model, test_ds):
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model.evaluate(test_ds, verbose=0, return_dict=True)["accuracy"]


def load_or_train_teacher(config, train_ds, steps_per_epoch, shape, classes, log=print):
    """The teacher of `config`: loaded from `teacher_cache_path(config)`, or
    trained on `train_ds` and cached there (with its training time beside
    it, in `<path>.json`).

    Returns:
        `(teacher, seconds, cached)`: `seconds` is the time the teacher took
        to train (when it was trained, for a cached one).
    """
    path = teacher_cache_path(config)
    record = path + ".json"
    if os.path.exists(path):
        teacher = keras.models.load_model(path)
        if tuple(teacher.inputs[0].shape[1:]) == shape and (
            teacher.outputs[0].shape[-1] == classes
        ):
            seconds = 0.0
            if os.path.exists(record):
                with open(record) as f:
                    seconds = float(json.load(f).get("seconds", 0.0))
            log(f"Loaded cached teacher {path}")
            return teacher, seconds, True
        log(f"Cached teacher {path} does not fit {shape}; retraining.")
    keras.utils.set_random_seed(config.seed)
    teacher = cifar_resnet(config.teacher_depth, num_classes=classes, input_shape=shape)
    teacher.compile(
        optimizer=_sgd(_cosine(config.teacher_lr, config.teacher_epochs * steps_per_epoch)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    log(f"Training teacher ResNet-{config.teacher_depth} "
        f"({config.teacher_epochs} epochs)")
    start = time.time()
    teacher.fit(train_ds, epochs=config.teacher_epochs, verbose=config.verbose)
    seconds = time.time() - start
    io.save_model(teacher, path)
    config_fields = {f: getattr(config, f) for f in TEACHER_FIELDS}
    io.write_text(record, json.dumps({"config": config_fields, "seconds": seconds}, indent=1) + "\n")
    return teacher, seconds, False


def run_demo(config=None, log=print):
    """Runs the demo and returns its rows as a list of dicts.

    Args:
        config: A `DemoConfig`; defaults to `DemoConfig()`.
        log: Where progress lines go.

    Returns:
        `[{"model", "params", "accuracy", "seconds"}, ...]` for the teacher,
        the student alone and the distilled student (the teacher's row also
        has `"cached"`: loaded from the cache, `seconds` from when it trained).
    """
    config = config or DemoConfig()
    info = data.info(config.dataset)
    shape, classes = tuple(info.image_shape), info.num_classes

    def train_ds():
        return data.load(config.dataset, "train", config.batch_size,
                         seed=config.seed, take=config.train_examples)

    test_ds = data.load(config.dataset, info.eval_split, 256)
    steps_per_epoch = (config.train_examples or info.split_sizes["train"]) // config.batch_size

    teacher, teacher_seconds, cached = load_or_train_teacher(
        config, train_ds(), steps_per_epoch, shape, classes, log)
    rows = [{
        "model": f"Teacher ResNet-{config.teacher_depth}",
        "params": teacher.count_params(),
        "accuracy": _evaluate(teacher, test_ds),
        "seconds": teacher_seconds,
        "cached": cached,
    }]
    student_steps = config.student_epochs * steps_per_epoch
    students = [("ce", "Student alone")] + [(m, f"Student {m.upper()}")
                                               for m in config.methods.split(",") if m]
    for method, label in students:
        keras.utils.set_random_seed(config.seed + 1)
        student = cifar_resnet(config.student_depth, width_multiplier=config.student_width,
                               num_classes=classes, input_shape=shape)
        hparams = {} if method == "ce" else {"mu": config.mu, "gamma": config.gamma}
        distiller = build_distiller(method, teacher, student, **hparams)
        compile_args = {"optimizer": _sgd(_cosine(config.student_lr, student_steps)),
                        "metrics": ["accuracy"]}
        if method != "ce":
            compile_args["auxiliary_optimizer"] = _sgd(
                _cosine(config.knowledge_lr, student_steps))
        distiller.compile(**compile_args)
        log(f"Training {label} ResNet-{config.student_depth}x{config.student_width:g} "
            f"({config.student_epochs} epochs)")
        start = time.time()
        distiller.fit(train_ds(), epochs=config.student_epochs, verbose=config.verbose)
        rows.append({
            "model": f"{label} ResNet-{config.student_depth}x{config.student_width:g}",
            "params": student.count_params(),
            "accuracy": _evaluate(student, test_ds),
            "seconds": time.time() - start,
        })
    return rows


def format_table(rows):
    """A Markdown table of `run_demo`'s rows."""
    lines = ["| model | params | test accuracy | train time (s) |",
             "|---|---:|---:|---:|"]
    for row in rows:
        seconds = f"{row['seconds']:.0f}" + (" (cached)" if row.get("cached") else "")
        lines.append(f"| {row['model']} | {row['params']:,} | "
                     f"{row['accuracy']:.4f} | {seconds} |")
    return "\n".join(lines)


def write_report(rows, config, path, command="python -m experiments.demo", wall_seconds=None):
    """Writes `format_table(rows)` to `path` (atomically) with the command
    and the full config that produced it, so the README's table can be
    traced to its run.

    Returns:
        `path`.
    """
    wall = f" in {wall_seconds / 60:.1f} min wall time" if wall_seconds is not None else ""
    lines = [
        "# Demo: teacher, student alone, KR student",
        "",
        f"Written by `{command}`{wall} (`make demo` runs it with the default flags).",
        f"Config: `{json.dumps(dataclasses.asdict(config), sort_keys=True)}`.",
        "",
        format_table(rows),
    ]
    return io.write_text(path, "\n".join(lines) + "\n")
