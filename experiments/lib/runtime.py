"""Process-wide set-up of a run: seeds, determinism, precision.

Strategies come from `kr_keras.distribute.get_strategy`.
"""

import keras
import tensorflow as tf


def configure(seed, deterministic=False, mixed_precision=False):
    """Seeds Python, NumPy and TF (`keras.utils.set_random_seed`), enables TF
    op determinism when `deterministic`, and sets the dtype policy.

    Call before any model is built. Determinism: docs/reliability.md.
    """
    keras.utils.set_random_seed(int(seed))
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.config.set_dtype_policy("mixed_float16" if mixed_precision else "float32")
