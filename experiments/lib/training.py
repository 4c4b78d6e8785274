"""Training loops of the binaries: resumable `fit`, teacher training, distillation."""

import dataclasses
import importlib.util
import logging
import math
import os

import keras
import tensorflow as tf

from kr_keras import data
from kr_keras import distribute
from kr_keras.callbacks import PreciseBatchNorm
from kr_keras.distillers import registry
from experiments.lib import distillers as distiller_lib
from experiments.lib import evaluation
from experiments.lib import io
from experiments.lib import runtime
from experiments.lib.checkpoint import TrainingCheckpoint
from experiments.lib.config import fingerprint
from experiments.lib.guard import NonFiniteGuard
from experiments.lib.taps import ARCHITECTURES


def train_pipeline(dataset, batch_size, seed, take=None, check_numerics=False, num_classes=None):
    """The seeded training pipeline; with `num_classes`, a label outside
    `[0, num_classes)` fails with an `InvalidArgumentError` whose message
    starts with "kr_keras: label out of range" (`cli.one_line` keeps that)."""
    ds = data.load(dataset, "train", batch_size, seed=seed, take=take,
                   check_numerics=check_numerics)
    if num_classes is not None:
        message = (f"kr_keras: label out of range [0, {num_classes}) in {dataset!r}; "
                   "the model and the data disagree on the classes")

        def check(x, y):
            with tf.control_dependencies([
                tf.debugging.assert_non_negative(y, message=message),
                tf.debugging.assert_less(y, tf.cast(num_classes, y.dtype), message=message),
            ]):
                return x, tf.identity(y)

        ds = ds.map(check)
    return ds


def precise_bn_callbacks(samples, dataset, batch_size, seed, take=None):
    """`[PreciseBatchNorm]` re-estimating the (student's) batch-norm statistics
    on `samples` training images before every validation and after training,
    or `[]` when `samples` is 0. Its own seeded pipeline leaves the training
    data order alone."""
    evaluation.check_precise_bn_samples(samples)
    if not samples:
        return []
    images = min(samples, training_examples(dataset, take))
    return [PreciseBatchNorm(train_pipeline(dataset, min(batch_size, images), seed, take),
                             num_samples=samples)]


def training_examples(dataset, take=None):
    """Images in the (subset) training split: `take` or the split's size."""
    size = data.info(dataset).split_sizes["train"]
    return size if take is None else min(size, take)


def steps_per_epoch(dataset, batch_size, take=None, requested=None):
    """Full batches in one pass of the (subset) training split, or `requested`."""
    size = training_examples(dataset, take)
    full = size // batch_size
    if full < 1:
        raise ValueError(
            f"{size} training images give no full batch of {batch_size}; lower --batch_size. "
            f"Received: batch_size={batch_size}"
        )
    return int(requested) if requested else full


def fit_resumable(model, make_train_ds, steps_per_epoch, epochs, validation_data=None,
                  callbacks=(), checkpoint=None, verbose="auto"):
    """`model.fit` that resumes from `checkpoint` at the exact batch.

    It trains on `make_train_ds().repeat().skip(step)` (docs/reliability.md,
    "Resume"); a resume mid-epoch finishes that epoch with a short `fit`.

    Args:
        model: A compiled model (distiller).
        make_train_ds: Zero-argument function returning one epoch of the
            seeded training `tf.data.Dataset`.
        steps_per_epoch: Steps per epoch.
        epochs: Total epochs.
        validation_data: Passed to `fit`.
        callbacks: Other callbacks (a `NonFiniteGuard` is added first).
        checkpoint: A `TrainingCheckpoint` or `None`.
        verbose: Passed to `fit`.

    Returns:
        A dict of per-epoch history lists of this process's epochs.
    """
    step = checkpoint.restore(model) if checkpoint is not None else 0
    total = steps_per_epoch * epochs
    guard = NonFiniteGuard(step, checkpoint.directory if checkpoint is not None else None)
    all_callbacks = [guard, *callbacks] + ([checkpoint] if checkpoint is not None else [])
    history = {}
    while step < total:
        epoch, batch = divmod(step, steps_per_epoch)
        stream = make_train_ds().repeat().skip(step)
        last_epoch = epoch + 1 if batch else epochs
        steps = steps_per_epoch - batch if batch else steps_per_epoch
        guard.step = step
        result = model.fit(
            stream,
            initial_epoch=epoch,
            epochs=last_epoch,
            steps_per_epoch=steps,
            validation_data=validation_data,
            callbacks=all_callbacks,
            verbose=verbose,
        )
        for key, values in result.history.items():
            history.setdefault(key, []).extend(values)
        if model.stop_training:
            break
        step = last_epoch * steps_per_epoch
    return history


def _logging_callbacks(log_dir):
    if not log_dir:
        return []
    os.makedirs(log_dir, exist_ok=True)
    callbacks = [keras.callbacks.CSVLogger(os.path.join(log_dir, "training.csv"), append=True)]
    if importlib.util.find_spec("tensorboard") is not None:
        callbacks.append(keras.callbacks.TensorBoard(os.path.join(log_dir, "tensorboard")))
    else:
        logging.warning("The `tensorboard` package is not installed: CSV logs only "
                        "(pip install tensorboard).")
    return callbacks


def _check_compatible(teacher, dataset_info):
    shape = tuple(teacher.inputs[0].shape[1:]) if getattr(teacher, "inputs", None) else None
    if shape is not None and shape != tuple(dataset_info.image_shape):
        raise ValueError(
            f"The teacher takes {shape} images but {dataset_info.name!r} has "
            f"{tuple(dataset_info.image_shape)}; use the teacher trained on this dataset. "
            f"Received: teacher input shape {shape}"
        )
    classes = teacher.outputs[0].shape[-1] if getattr(teacher, "outputs", None) else None
    if classes is not None and classes != dataset_info.num_classes:
        raise ValueError(
            f"The teacher predicts {classes} classes but {dataset_info.name!r} has "
            f"{dataset_info.num_classes}; use the teacher trained on this dataset. "
            f"Received: teacher classes={classes}"
        )


def _sgd(schedule, total_steps, steps_per_epoch, momentum, weight_decay):
    optimizer = keras.optimizers.SGD(
        schedule.build(total_steps, steps_per_epoch),
        momentum=momentum,
        weight_decay=weight_decay or None,
    )
    if weight_decay:
        optimizer.exclude_from_weight_decay(var_names=["tau"])
    return optimizer


def run_length(epochs, steps, spe):
    """`(steps_per_epoch, epochs)` for `--epochs` or `--steps` (rounded up to
    whole epochs of `spe`, or one shorter epoch)."""
    if steps:
        if steps <= spe:
            return steps, 1
        return spe, int(math.ceil(steps / spe))
    return spe, int(epochs)


def eval_pipeline(dataset, batch_size, take=None):
    """The evaluation pipeline of `dataset`: its `eval_split` (`"test"`, or
    `"validation"` for ImageNet), not shuffled, not augmented."""
    return data.load(dataset, data.info(dataset).eval_split, batch_size, take=take)


def _architecture(name, field):
    """`ARCHITECTURES[name]`: `(builder, tap_rule)`; an unknown name is an error."""
    if name not in ARCHITECTURES:
        raise ValueError(f"Unknown architecture. Known: {sorted(ARCHITECTURES)}. "
                         f"Received: {field}={name!r}")
    return ARCHITECTURES[name]


def _train_and_save(model, config, spe, epochs, verbose, saved=None):
    """`fit_resumable` of a `TeacherConfig` or `DistillConfig` run (its training
    and evaluation pipelines, PreciseBN and log callbacks, and checkpoint), then
    the test evaluation of `saved` (default: `model`), written to `config.output`.

    Returns:
        A dict with `history`, `test` metrics, `output`, `params` and
        `precise_bn_samples`.
    """
    saved = model if saved is None else saved
    checkpoint = None
    if config.checkpoint_dir:
        checkpoint = TrainingCheckpoint(config.checkpoint_dir, config.save_every_steps, spe,
                                        fingerprint(config))
    num_classes = data.info(config.dataset).num_classes
    test = eval_pipeline(config.dataset, config.batch_size, config.eval_take)
    history = fit_resumable(
        model,
        lambda: train_pipeline(config.dataset, config.batch_size, config.seed,
                               config.train_take, config.check_numerics, num_classes),
        spe, epochs,
        validation_data=test,
        # PreciseBN first: validation, checkpoints and logs see its statistics.
        callbacks=precise_bn_callbacks(config.precise_bn_samples, config.dataset,
                                       config.batch_size, config.seed, config.train_take)
        + _logging_callbacks(config.log_dir),
        checkpoint=checkpoint,
        verbose=verbose,
    )
    classes = saved.outputs[0].shape[-1]
    metrics = evaluation.accuracy(saved, test, top_k=(1, 5) if classes >= 100 else (1,))
    io.save_model(saved, config.output)
    logging.info("Written to %s: %s", config.output, metrics)
    return {"history": history, "test": metrics, "output": config.output,
            "params": saved.count_params(), "precise_bn_samples": config.precise_bn_samples}


def train_teacher(config, verbose="auto"):
    """Trains a CIFAR ResNet teacher (`TeacherConfig`); writes `config.output`.

    Returns:
        A dict with `history`, `test` metrics and `output`.
    """
    runtime.configure(config.seed, config.deterministic)
    info = data.info(config.dataset)
    spe = steps_per_epoch(config.dataset, config.batch_size, config.train_take,
                          config.steps_per_epoch)
    model = _architecture(config.arch, "arch")[0](
        config.depth, config.width_multiplier, num_classes=info.num_classes,
        input_shape=info.image_shape)
    model.compile(
        optimizer=_sgd(config.schedule(), spe * config.epochs, spe, config.momentum,
                       config.weight_decay),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return _train_and_save(model, config, spe, config.epochs, verbose)


def build_distillation(config, explicit=()):
    """Loads the teacher, builds the student and the distiller, compiles it.

    Must run inside the strategy scope (`distill` does that).

    Returns:
        `(distiller, steps_per_epoch, epochs)`.
    """
    info = data.info(config.dataset)
    teacher = io.load_model(config.teacher, "teacher")
    _check_compatible(teacher, info)
    build_student, tap_rule = _architecture(config.student_arch, "student_arch")
    # Re-seeded here so the student's initial weights depend on the seed
    # only, not on the random ops of what ran before (e.g. loading the teacher).
    keras.utils.set_random_seed(config.seed)
    student = build_student(config.student_depth, config.student_width,
                            num_classes=info.num_classes, input_shape=info.image_shape,
                            name="student")
    hparams = dict(config.hparams)
    group_size = hparams.get("group_size")
    # Stage-aligned taps are KR's grouping; methods without `group_size`
    # (AT, NST, FSP, ...) keep their own default taps.
    takes_groups = "group_size" in registry.hyperparameters(config.method)
    if takes_groups and group_size is not None and "teacher_layers" not in hparams:
        teacher_layers, student_layers = tap_rule(teacher, student, group_size)
        if teacher_layers:
            hparams.update(teacher_layers=teacher_layers, student_layers=student_layers)
    if "n_data" in registry.hyperparameters(config.method) and hparams.get("n_data") is None:
        # CRD's memory holds one row per training example (RepDistiller:
        # n_data = len(train set)), not the 50,000 of its CIFAR default.
        hparams["n_data"] = training_examples(config.dataset, config.train_take)
    distiller, _ = distiller_lib.build(config.method, teacher, student, hparams, explicit)
    spe, epochs = run_length(
        config.epochs, config.steps,
        steps_per_epoch(config.dataset, config.batch_size, config.train_take,
                        config.steps_per_epoch),
    )
    total = spe * epochs
    distiller_lib.compile_distiller(
        distiller,
        _sgd(config.student_lr, total, spe, config.momentum, config.weight_decay),
        _sgd(config.knowledge_lr, total, spe, config.momentum, config.weight_decay),
        jit_compile=config.jit_compile,
    )
    return distiller, spe, epochs


def distill(config, explicit=(), verbose="auto"):
    """Runs one distillation (`DistillConfig`); writes the student `.keras`.

    Args:
        config: A `DistillConfig`.
        explicit: Hyper-parameter names set explicitly by the user (a
            method that does not take one of them is an error).
        verbose: Passed to `fit`.

    Returns:
        A dict with `history`, `test` metrics, `params` and `output`.
    """
    runtime.configure(config.seed, config.deterministic, config.mixed_precision)
    with distribute.get_strategy(config.strategy).scope():
        distiller, spe, epochs = build_distillation(config, explicit)
    result = _train_and_save(distiller, config, spe, epochs, verbose, saved=distiller.student)
    return {**result, "config": dataclasses.asdict(config)}

