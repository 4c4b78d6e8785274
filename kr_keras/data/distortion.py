"""Fixed additive Gaussian distortion: the T-CIFAR100 variant.

Reference: Liu et al., "Knowledge Representing: Efficient, Sparse Representation
of Prior Knowledge for Knowledge Distillation", Sec. 4.2.4, Fig. 6.
The reading: docs/data.md, "T-CIFAR100: the project's reading".
"""

import tensorflow as tf

SPACES = ("normalized", "unit", "pixel")
SPLIT_IDS = {"train": 0, "test": 1, "validation": 2}
_NOISE_SALT = 0x4B52  # Keeps the noise stream apart from other seeded streams.


def noise_scale(sigma, space, std):
    """Per-channel sigma on the [0, 1] scale for `sigma` given in `space`.

    Args:
        sigma: the distortion's standard deviation in `space`.
        space: one of `SPACES` (`kr_keras.data.load` checks it).
        std: per-channel std of the clean images on the [0, 1] scale.

    Returns:
        A tuple with one float per channel.
    """
    if space == "normalized":
        return tuple(sigma * s for s in std)
    per_unit = 1.0 if space == "unit" else 1.0 / 255.0
    return tuple(sigma * per_unit for _ in std)


def image_seed(seed, split, index):
    """The `[2]` int64 stateless seed of the distortion of one image.

    Args:
        seed: the user's integer seed.
        split: split name (`"train"`, `"test"`, `"validation"`).
        index: int64 scalar tensor, the image's position in the split.

    Returns:
        A `[2]` int64 tensor, a pure function of its arguments.
    """
    split_id = SPLIT_IDS.get(split, len(SPLIT_IDS))
    base = tf.constant([int(seed), _NOISE_SALT * 8 + split_id], dtype=tf.int64)
    return tf.random.experimental.stateless_fold_in(base, tf.cast(index, tf.int64))


def distort(image, seed, split, index, scale):
    """Adds the fixed Gaussian distortion of image `index` of `split`.

    Args:
        image: float `[H, W, C]` on the [0, 1] scale.
        seed: the user's integer seed.
        split: split name.
        index: int64 scalar tensor, position of the image in its split.
        scale: per-channel noise std on the [0, 1] scale (see `noise_scale`).

    Returns:
        `image + scale * n` with `n ~ N(0, 1)` fixed by `(seed, split, index)`.

    Example:

    >>> x = distort(tf.zeros([32, 32, 3]), 0, "test", tf.constant(5, tf.int64), (0.27, 0.26, 0.28))
    """
    noise = tf.random.stateless_normal(tf.shape(image), seed=image_seed(seed, split, index))
    return image + noise * tf.constant(scale, dtype=image.dtype)
