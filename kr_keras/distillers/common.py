"""Helpers every distiller shares: optimizer set-up, replica scaling,
teacher/student checks."""

import keras
import tensorflow as tf


def replica_scale(value):
    """Divides a per-replica mean by the replica count (gradient all-reduce
    sums), as Keras' compiled losses do."""
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if replicas > 1:
        value = value * tf.cast(1.0 / replicas, value.dtype)
    return value


def build_optimizer(optimizer, variables, name):
    """Resolves an optimizer identifier, wraps it for loss scaling under a
    `mixed_float16` policy, and builds it over `variables` now: Keras 3
    optimizers that build lazily inside a custom `train_step` fail under
    `MirroredStrategy` (NOTES.md)."""
    optimizer = keras.optimizers.get(optimizer)
    policy = keras.config.dtype_policy()
    if policy.name == "mixed_float16" and not isinstance(
        optimizer, keras.optimizers.LossScaleOptimizer
    ):
        optimizer = keras.optimizers.LossScaleOptimizer(
            optimizer, name=f"{name}_loss_scale"
        )
    if not optimizer.built:
        optimizer.build(variables)
    return optimizer


def check_teacher_student(teacher, student):
    """Raises a ValueError naming the fix unless both are built functional
    `keras.Model`s with the same input shape and class count."""
    for role, model in (("teacher", teacher), ("student", student)):
        if not isinstance(model, keras.Model):
            raise ValueError(
                f"The {role} must be a keras.Model. Received: {role}={model!r}"
            )
        if not model.built or getattr(model, "inputs", None) is None:
            raise ValueError(
                f"The {role} '{model.name}' is not a built functional model. "
                "Build it with the functional API (keras.Input) or "
                "keras.Sequential with an input shape, or load it from a "
                f".keras file. Received: {role}.built={model.built}"
            )
    t_in, s_in = tuple(teacher.inputs[0].shape[1:]), tuple(student.inputs[0].shape[1:])
    if t_in != s_in:
        raise ValueError(
            "Teacher and student must take the same input shape. Rebuild the "
            f"student with input_shape={t_in}. Received: teacher input {t_in}, "
            f"student input {s_in}"
        )
    t_out, s_out = teacher.outputs[0].shape[-1], student.outputs[0].shape[-1]
    if t_out != s_out:
        raise ValueError(
            "Teacher and student must predict the same number of classes. "
            f"Rebuild the student with num_classes={t_out}. Received: teacher "
            f"{t_out} classes, student {s_out} classes"
        )
