"""A model's weights fingerprint: which trained weights a result came from."""

import hashlib

import keras
import numpy as np


def weights_fingerprint(model):
    """The SHA-256 (hex) of `model.weights`, in order: each weight's dtype,
    shape and bytes (batch-norm statistics included, optimizer state not).

    Two models share the fingerprint exactly when they hold the same weights
    in the same layout, so a saved model can be checked after loading, and a
    result can name the teacher it used.

    Example:

    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> len(weights_fingerprint(model))
    64
    """
    digest = hashlib.sha256()
    for weight in model.weights:
        array = np.ascontiguousarray(keras.ops.convert_to_numpy(weight))
        digest.update(f"{array.dtype.str}{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
