"""Image augmentations on float [0, 1]-scale images, with stateless random ops.

The same `[2]` int64 `seed` gives the same output.
"""

import tensorflow as tf

IMAGENET_EVAL_RESIZE = 256
IMAGENET_CROP = 224


def pad_crop_flip(image, seed, pad):
    """Zero-pads `pad` pixels per side, random-crops back, flips left-right.

    Args:
        image: float `[H, W, C]` with a static shape.
        seed: `[2]` int64 tensor.
        pad: pixels of zero padding on each side.

    Returns:
        A float `[H, W, C]` image.

    Example:

    >>> x = pad_crop_flip(tf.zeros([32, 32, 3]), tf.constant([1, 2], tf.int64), pad=4)
    """
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    shape = tf.shape(image)
    padded = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
    cropped = tf.image.stateless_random_crop(padded, shape, seed=crop_seed)
    return tf.image.stateless_random_flip_left_right(cropped, seed=flip_seed)


def random_resized_crop_flip(image, seed, size=IMAGENET_CROP, area=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    """Inception-style random-resized crop to `size` x `size`, then a flip.

    Args:
        image: float `[H, W, C]` (any size).
        seed: `[2]` int64 tensor.
        size: output side.
        area: range of the crop's area as a fraction of the image.
        ratio: range of the crop's aspect ratio.

    Returns:
        A float `[size, size, C]` image.
    """
    box_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    begin, crop_size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image),
        bounding_boxes=tf.constant([0.0, 0.0, 1.0, 1.0], shape=[1, 1, 4]),
        seed=box_seed,
        min_object_covered=0.0,
        aspect_ratio_range=ratio,
        area_range=area,
        max_attempts=10,
        use_image_if_no_bounding_boxes=True,
    )
    crop = tf.slice(image, begin, crop_size)
    crop = tf.image.resize(crop, [size, size], method="bilinear")
    return tf.image.stateless_random_flip_left_right(crop, seed=flip_seed)


def resize_center_crop(image, resize=IMAGENET_EVAL_RESIZE, size=IMAGENET_CROP):
    """Resizes the shorter side to `resize` (aspect kept), center-crops `size`.

    Args:
        image: float `[H, W, C]` (any size).
        resize: target length of the shorter side.
        size: output side.

    Returns:
        A float `[size, size, C]` image.
    """
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = resize / tf.reduce_min(shape)
    new_shape = tf.cast(tf.round(shape * scale), tf.int32)
    new_shape = tf.maximum(new_shape, size)
    resized = tf.image.resize(image, new_shape, method="bilinear")
    top = (new_shape[0] - size) // 2
    left = (new_shape[1] - size) // 2
    return tf.slice(resized, [top, left, 0], [size, size, -1])
