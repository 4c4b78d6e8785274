"""`load` and `info`: one `tf.data` pipeline for every dataset.

The order of operations and the seeding: docs/data.md.
"""

import math

import tensorflow as tf

from kr_keras.data import distortion, registry

AUTOTUNE = tf.data.AUTOTUNE


def info(name):
    """Returns the `DatasetInfo` of a dataset without loading its images.

    Args:
        name: a dataset name (see `load`).

    Returns:
        The frozen `DatasetInfo` of `name`.

    Example:

    >>> kr_keras.data.info("fashion_mnist")
    DatasetInfo(name='fashion_mnist', image_shape=(28, 28, 1), num_classes=10, split_sizes={'train': 60000, 'test': 10000}, eval_split='test')
    """
    return registry.get(name).info()


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")


def load(
    name,
    split,
    batch_size,
    augment=None,
    distortion_sigma=None,
    distortion_space="normalized",
    seed=0,
    data_dir=None,
    shuffle=None,
    check_numerics=False,
    take=None,
):
    """Returns a batched, preprocessed `tf.data.Dataset` of a dataset split.

    Args:
        name: `"fashion_mnist"`, `"cifar10"`, `"cifar100"`, `"t_cifar100"`,
            `"imagenet2012"`, `"npz:<path>"` or `"dir:<path>"`.
        split: a key of `info(name).split_sizes`: `"train"`, `"test"` (or
            `"validation"` for ImageNet).
        batch_size: examples per batch.
        augment: apply the dataset's training augmentation. `None`: only on
            `"train"`.
        distortion_sigma: std of a fixed additive Gaussian distortion (the
            T-CIFAR100 recipe), for any dataset. `None`: the dataset's default
            (1.0 for `"t_cifar100"`, none otherwise); `0` disables it.
        distortion_space: scale of `distortion_sigma`: `"normalized"` (the
            standardised input space), `"unit"` ([0, 1]) or `"pixel"` (0..255).
        seed: integer seed of shuffling, augmentation and distortion; `None`:
            non-deterministic (the distortion keeps seed 0).
        data_dir: TFDS data directory, or a folder with the Fashion-MNIST IDX files.
        shuffle: shuffle the examples. `None`: only on `"train"`.
        check_numerics: fail with a clear error on NaN/Inf in the images.
        take: keep only the first `take` examples of the split (tests, demos).

    Returns:
        A finite `tf.data.Dataset` of float32 `[batch, H, W, C]` standardised
        images and int32 `[batch]` labels, one epoch per iteration. Training
        pipelines (`"train"`, shuffled) drop the partial last batch.

    Example:

    >>> ds = kr_keras.data.load("fashion_mnist", "train", batch_size=128)
    >>> images, labels = next(iter(ds))   # [128, 28, 28, 1] float32, [128] int32
    """
    builder = registry.get(name)
    dataset_info = builder.info()
    if split not in dataset_info.split_sizes:
        raise ValueError(
            f"Unknown split for {name!r}. Known splits: {sorted(dataset_info.split_sizes)}. "
            f"Received: split={split!r}"
        )
    _check_int(batch_size, "batch_size", 1)
    if take is not None:
        _check_int(take, "take", 1)
    if seed is not None:
        _check_int(seed, "seed", 0)
    if distortion_sigma is None:
        distortion_sigma = builder.default_distortion_sigma or 0.0
    if not (isinstance(distortion_sigma, (int, float)) and math.isfinite(distortion_sigma)
            and distortion_sigma >= 0):
        raise ValueError(
            f"`distortion_sigma` must be a finite number >= 0. Received: distortion_sigma={distortion_sigma!r}"
        )
    if distortion_space not in distortion.SPACES:
        raise ValueError(
            f"`distortion_space` must be one of {distortion.SPACES}. "
            f"Received: distortion_space={distortion_space!r}"
        )
    training = split == "train"
    augment = training if augment is None else bool(augment)
    shuffle = training if shuffle is None else bool(shuffle)
    drop_remainder = training and shuffle
    num_examples = dataset_info.split_sizes[split]
    if take is not None:
        num_examples = min(num_examples, take)
    if num_examples == 0:
        raise ValueError(f"The {split!r} split of {name!r} is empty. Received: split={split!r}")
    if drop_remainder and num_examples < batch_size:
        raise ValueError(
            f"A training pipeline drops the partial last batch, so {num_examples} examples "
            f"give no batch; lower `batch_size` or raise `take`. "
            f"Received: batch_size={batch_size}, take={take}"
        )

    source = builder.source(split, data_dir=data_dir)
    ds = source.examples
    if take is not None:
        ds = ds.take(take)
    if source.cache:
        ds = ds.cache()
    ds = ds.enumerate()
    if shuffle:
        buffer = max(1, min(source.shuffle_buffer, num_examples))
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    aug_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip((ds, aug_seeds))

    mean = tf.constant(source.mean, tf.float32)
    std = tf.constant(source.std, tf.float32)
    noise_scale = distortion.noise_scale(distortion_sigma, distortion_space, source.std)
    noise_seed = 0 if seed is None else seed
    message = (
        f"kr_keras.data: NaN or Inf in the images of {name!r} split {split!r}; check the "
        "source images (and distortion settings)"
    )

    def preprocess(indexed, aug_seed):
        index, (image, label) = indexed
        if source.decode is not None:
            image = source.decode(image)
        x = tf.cast(image, tf.float32) / 255.0
        if distortion_sigma > 0:
            x = distortion.distort(x, noise_seed, split, index, noise_scale)
        if augment:
            x = source.train_transform(x, tf.stack([aug_seed, tf.constant(0, tf.int64)]))
        elif source.eval_transform is not None:
            x = source.eval_transform(x)
        x = (x - mean) / std
        x = tf.ensure_shape(x, dataset_info.image_shape)
        if check_numerics:
            x = tf.debugging.check_numerics(x, message)
        return x, tf.cast(label, tf.int32)

    ds = ds.map(preprocess, num_parallel_calls=AUTOTUNE)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder, num_parallel_calls=AUTOTUNE)
    ds = ds.prefetch(AUTOTUNE)
    options = tf.data.Options()
    options.deterministic = seed is not None
    return ds.with_options(options)
