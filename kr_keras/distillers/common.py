"""Helpers every distiller shares: optimizers, model checks, compute dtype."""

import warnings
import weakref

import keras
import tensorflow as tf

from kr_keras.models.onednn_guard import warn_strided_pointwise
from kr_keras.models.tap import model_io


def build_optimizer(optimizer, variables, name):
    """Resolves an optimizer, wraps it for loss scaling under `mixed_float16` and
    builds it over `variables` now: Keras 3 optimizers built lazily inside a
    custom `train_step` fail under `MirroredStrategy` (keras#19246)."""
    optimizer = keras.optimizers.get(optimizer)
    policy = keras.config.dtype_policy()
    if policy.name == "mixed_float16" and not isinstance(
            optimizer, keras.optimizers.LossScaleOptimizer):
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer, name=f"{name}_loss_scale")
    if not optimizer.built:
        optimizer.build(variables)
    return optimizer


_FIRST_MIRRORED = []  # a weak reference to the first MirroredStrategy a distiller compiled under


def warn_second_mirrored_strategy(name):
    """Warns when a distiller stepping several optimizers compiles under a
    second `MirroredStrategy` (docs/scaling.md, "One MirroredStrategy per process")."""
    strategy = tf.distribute.get_strategy()
    if not isinstance(strategy, tf.distribute.MirroredStrategy):
        return
    if not _FIRST_MIRRORED:
        _FIRST_MIRRORED.append(weakref.ref(strategy))
    elif _FIRST_MIRRORED[0]() is not strategy:
        warnings.warn(
            f"{name} steps several optimizers under a second MirroredStrategy in this "
            "process, whose all-reduce fails with 'Shape mismatch in the collective "
            "instance' (tensorflow#62790). Create one strategy per process and reuse it: "
            "kr_keras.distribute.get_strategy('mirrored') returns the same one.", stacklevel=3)


def unwrapped(optimizer):
    """The optimizer inside a `LossScaleOptimizer` (or itself)."""
    return getattr(optimizer, "inner_optimizer", optimizer)


def copy_optimizer(optimizer):
    """A fresh optimizer of `optimizer`'s class and config (schedule and weight
    decay included): RepDistiller trains helpers with the student's settings."""
    inner = unwrapped(keras.optimizers.get(optimizer))
    return inner.__class__.from_config(inner.get_config())


def run_in_global_dtype(model):
    """Sets every layer of a model saved entirely in float32 (a loaded teacher)
    to the global mixed-precision policy; per-layer policies are left as they are."""
    policy = keras.config.dtype_policy()
    layers = [l for l in model._flatten_layers(include_self=False)
              if not isinstance(l, keras.layers.InputLayer)]
    if policy.compute_dtype == "float32" or any(
            l.dtype_policy.name != "float32" for l in layers):
        return
    for layer in layers:
        layer.dtype_policy = policy


def check_teacher_student(teacher, student):
    """Raises a ValueError naming the fix unless both are built `keras.Model`s
    returning logits (no final softmax, checked on functional models), with
    the same input shape and class count."""
    shapes = {}
    for role, model in (("teacher", teacher), ("student", student)):
        if not isinstance(model, keras.Model):
            raise ValueError(
                f"The {role} must be a keras.Model. Received: {role}={model!r}")
        shapes[role] = model_io(model, role)
        outputs = getattr(model, "outputs", None)  # a subclassed model's are not known
        last = outputs[0]._keras_history.operation if outputs else None
        if isinstance(last, keras.layers.Softmax) or getattr(
                last, "activation", None) is keras.activations.softmax:
            # Softened probabilities of probabilities carry almost nothing (KD, DKD, ...).
            raise ValueError(
                f"The {role} '{model.name}' ends in a softmax, but distillation takes logits. "
                "Build it without one (keras.applications: classifier_activation=None; a "
                "Dense layer: activation=None), or for a trained model set "
                f"{role}.get_layer('{last.name}').activation = keras.activations.linear. "
                f"Received: a softmax in layer '{last.name}'")
    warn_strided_pointwise(student, "student")
    (t_in, t_out), (s_in, s_out) = shapes["teacher"], shapes["student"]
    if t_in != s_in:
        raise ValueError(
            "Teacher and student must take the same input shape. Rebuild the "
            f"student with input_shape={t_in}. Received: teacher input {t_in}, "
            f"student input {s_in}")
    if t_out != s_out:
        raise ValueError(
            "Teacher and student must predict the same number of classes. "
            f"Rebuild the student with num_classes={t_out}. Received: teacher "
            f"{t_out} classes, student {s_out} classes")
