"""Process-wide set-up of a run: seeds, determinism, precision, strategy."""

import keras
import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi_worker")


def configure(seed, deterministic=False, mixed_precision=False):
    """Seeds Python, NumPy and TF (`keras.utils.set_random_seed`), enables TF
    op determinism when `deterministic`, and sets the dtype policy.

    Call before any model is built. Op determinism makes two runs of the
    same command give bit-identical weights (on the same machine and TF
    build), at some speed cost.
    """
    keras.utils.set_random_seed(int(seed))
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.config.set_dtype_policy("mixed_float16" if mixed_precision else "float32")


def get_strategy(name):
    """Returns the `tf.distribute` strategy called `name`.

    * `"default"`: `tf.distribute.get_strategy()` (one device).
    * `"mirrored"`: `tf.distribute.MirroredStrategy()` over this machine's
      GPUs (or its CPU).
    * `"multi_worker"`: `tf.distribute.MultiWorkerMirroredStrategy()`; every
      worker runs the same command with its own `TF_CONFIG` environment
      variable (see docs/experiments.md).
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"Unknown strategy. Known strategies: {STRATEGIES}. Received: strategy={name!r}")
