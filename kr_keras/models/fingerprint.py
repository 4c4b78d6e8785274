"""A model's weights fingerprint: which trained weights a result came from."""

import hashlib

import keras
import numpy as np


def weights_fingerprint(model):
    """The SHA-256 (hex) of `model.weights`, in order: each weight's dtype,
    shape and bytes (batch-norm statistics included, optimizer state not).

    Equal exactly when two models hold the same weights in the same layout.

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
