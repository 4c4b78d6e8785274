"""The README's main job: teacher, student alone and KR student, one table.

Trains (or loads the cached) teacher ResNet-20 on Fashion-MNIST, then the
student ResNet-8x0.75 alone and with KR under the same budget (epochs,
batch, optimizer, seed), and prints test accuracy and parameter counts.
`experiments/demo.py` is the absl binary over `run_demo`.
"""

import dataclasses
import os
import time

import keras

from kr_keras import data
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
    method: str = "kr"
    mu: float = 1.0
    gamma: float = 1.0
    seed: int = 0
    teacher_path: str = "saved_models/demo_teacher.keras"
    verbose: int = 1


def _sgd(lr):
    return keras.optimizers.SGD(lr, momentum=0.9)


def _cosine(lr, steps):
    return keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(1, steps))


def atomic_save(model, path):
    """Saves `model` to `path` through a temporary file and a rename, so an
    interrupted save never leaves a broken file where a good one was."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".tmp-{os.getpid()}-{os.path.basename(path)}")
    model.save(tmp)
    os.replace(tmp, path)


def _evaluate(model, test_ds):
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model.evaluate(test_ds, verbose=0, return_dict=True)["accuracy"]


def _teacher(config, train_ds, steps_per_epoch, shape, classes, log):
    if os.path.exists(config.teacher_path):
        teacher = keras.models.load_model(config.teacher_path)
        if tuple(teacher.inputs[0].shape[1:]) == shape and (
            teacher.outputs[0].shape[-1] == classes
        ):
            log(f"Loaded cached teacher {config.teacher_path}")
            return teacher, 0.0
        log(f"Cached teacher {config.teacher_path} does not fit {shape}; retraining.")
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
    atomic_save(teacher, config.teacher_path)
    return teacher, time.time() - start


def run_demo(config=None, log=print):
    """Runs the demo and returns its rows as a list of dicts.

    Args:
        config: A `DemoConfig`; defaults to `DemoConfig()`.
        log: Where progress lines go.

    Returns:
        `[{"model", "params", "accuracy", "seconds"}, ...]` for the teacher,
        the student alone and the distilled student.
    """
    config = config or DemoConfig()
    info = data.info(config.dataset)
    shape, classes = tuple(info.image_shape), info.num_classes

    def train_ds():
        return data.load(config.dataset, "train", config.batch_size,
                         seed=config.seed, take=config.train_examples)

    test_ds = data.load(config.dataset, "test", 256)
    steps_per_epoch = (config.train_examples or info.split_sizes["train"]) // config.batch_size

    teacher, teacher_seconds = _teacher(config, train_ds(), steps_per_epoch, shape, classes, log)
    rows = [{
        "model": f"Teacher ResNet-{config.teacher_depth}",
        "params": teacher.count_params(),
        "accuracy": _evaluate(teacher, test_ds),
        "seconds": teacher_seconds,
    }]
    student_steps = config.student_epochs * steps_per_epoch
    for method, label in (("ce", "Student alone"), (config.method, f"Student {config.method.upper()}")):
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
        lines.append(f"| {row['model']} | {row['params']:,} | "
                     f"{row['accuracy']:.4f} | {row['seconds']:.0f} |")
    return "\n".join(lines)
