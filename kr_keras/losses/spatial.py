"""Spatial matching of two channels-last feature maps (shared by AT, NST, FSP).

Reference: RepDistiller `distiller_zoo/AT.py`, `NST.py`, `FSP.py`, which
`adaptive_avg_pool2d` the larger map down to the smaller one's size.
"""

import numpy as np
import tensorflow as tf


def _pooling_matrix(size, new):
    """`[new, size]`: output `i` averages inputs `floor(i * size / new)` to
    `ceil((i + 1) * size / new) - 1`, as PyTorch's adaptive average pooling."""
    matrix = np.zeros((new, size), np.float32)
    for i in range(new):
        start, end = i * size // new, -(-(i + 1) * size // new)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


def pool_to(feature, size):
    """Average-pools `[batch, h, w, c]` to `size = (h', w')`, as PyTorch's
    `adaptive_avg_pool2d` (non-overlapping windows when `h % h' == 0` and
    `w % w' == 0`, the ResNet case; overlapping ones otherwise, e.g. 16 -> 15
    in NASNet). Differentiable (`tf.image.resize`'s "area" is not).
    """
    height, width = int(feature.shape[1]), int(feature.shape[2])
    new_h, new_w = int(size[0]), int(size[1])
    if (height, width) == (new_h, new_w):
        return feature
    if height % new_h == 0 and width % new_w == 0:
        fh, fw = height // new_h, width // new_w
        channels = tf.shape(feature)[3]
        x = tf.reshape(feature, [-1, new_h, fh, new_w, fw, channels])
        return tf.reduce_mean(x, axis=[2, 4])
    rows = tf.constant(_pooling_matrix(height, new_h), feature.dtype)
    columns = tf.constant(_pooling_matrix(width, new_w), feature.dtype)
    return tf.einsum("ih,bhwc,jw->bijc", rows, feature, columns)


def match_spatial(a, b):
    """Pools the larger of two 4D maps to the other's height and width."""
    for name, x in (("a", a), ("b", b)):
        if len(x.shape) != 4:
            raise ValueError(
                "Expected a channels-last feature map [batch, height, width, "
                f"channels]. Received: {name}.shape={tuple(x.shape)}"
            )
    size = [min(int(a.shape[axis]), int(b.shape[axis])) for axis in (1, 2)]
    return pool_to(a, size), pool_to(b, size)
