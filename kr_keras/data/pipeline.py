"""`load` and `info`: one `tf.data` pipeline for every dataset.

Order of operations (per example):

1. the dataset's raw examples in their fixed order; `take` keeps the first N;
2. `cache()` of the decoded uint8 set where it fits in memory (before any
   randomness, so augmentation and shuffling stay fresh every epoch);
3. `enumerate()` — the index names the image for the fixed distortion;
4. `shuffle` (training by default), seeded and reshuffled every epoch;
5. a parallel map: decode (ImageNet), scale to [0, 1], add the fixed
   distortion (if any), augment (training by default) or apply the
   evaluation transform, standardise per channel, optionally
   `check_numerics`; labels become int32;
6. `batch` (training pipelines drop the last partial batch), `prefetch`.

Randomness: shuffling uses `seed`; augmentation uses stateless ops seeded by
`tf.data.Dataset.random(seed, rerandomize_each_iteration=True)`, so a given
seed gives the same sequence of epochs on every run, and with a seed the
pipeline sets `options.deterministic = True`. Both are op-level seeds: the
random ops run before `load` (building a model, other pipelines) do not
change the order. TF combines an op-level seed with the global seed
(`tf.random.set_seed`) at construction, so a run sets the global seed to
its own seed first (`keras.utils.set_random_seed(seed)`, as
`experiments.lib.runtime.configure` does); the order then depends on
the run's seed only.
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
        A frozen `DatasetInfo(name, image_shape, num_classes, split_sizes,
        eval_split)`; `eval_split` is the split to evaluate on (`"test"`, or
        `"validation"` for `"imagenet2012"`).

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
        split: `"train"`, `"test"` (or `"validation"` for ImageNet); the keys
            of `info(name).split_sizes`. `info(name).eval_split` names the
            split to evaluate on.
        batch_size: examples per batch.
        augment: apply the dataset's training augmentation. `None`: only on
            `"train"`.
        distortion_sigma: std of a fixed additive Gaussian distortion (the
            T-CIFAR100 recipe; see `kr_keras/data/distortion.py`), for any
            dataset. `None`: the dataset's default (1.0 for `"t_cifar100"`,
            none otherwise); `0` disables it.
        distortion_space: scale of `distortion_sigma`: `"normalized"` (the
            per-channel standardised input space), `"unit"` ([0, 1] pixels)
            or `"pixel"` (0..255).
        seed: integer seed of shuffling, augmentation and distortion; `None`
            for a non-deterministic pipeline (the distortion then uses seed 0,
            so it stays fixed).
        data_dir: TFDS data directory (or a folder with the Fashion-MNIST IDX
            files).
        shuffle: shuffle the examples. `None`: only on `"train"`.
        check_numerics: fail with a clear error on NaN/Inf in the images.
        take: keep only the first `take` examples of the split (tests, demos).

    Returns:
        A `tf.data.Dataset` of `(images, labels)`: float32
        `[batch, H, W, C]` standardised images and int32 `[batch]` labels.
        Training pipelines (`split="train"` and shuffled) drop the last
        partial batch; others keep it. The dataset is finite (one epoch per
        iteration); call `.repeat()` for more.

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
