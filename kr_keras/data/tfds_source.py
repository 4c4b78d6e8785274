"""Reading a split of a TFDS dataset, with errors that say what to do."""

import tensorflow_datasets as tfds


def tfds_examples(name, split, data_dir=None, decoders=None):
    """Returns the `(image, label)` examples of a TFDS split in file order.

    Prepares the dataset first (downloads it when needed; `tfds` cannot reach
    the internet on offline machines, then this raises a `RuntimeError` that
    says where prepared data is looked for).

    Args:
        name: TFDS name, e.g. `"cifar10"`.
        split: TFDS split name.
        data_dir: TFDS data directory (`None`: TFDS's default).
        decoders: passed to `as_dataset` (e.g. to skip image decoding).

    Returns:
        An unbatched `tf.data.Dataset` of `(image, label)`, not shuffled.
    """
    builder = tfds.builder(name, data_dir=data_dir)
    try:
        builder.download_and_prepare()
    except Exception as e:  # tfds raises many types (network, missing deps).
        raise RuntimeError(
            f"tfds could not download/prepare {name!r} ({type(e).__name__}: {e}). On an "
            "offline machine, copy a prepared TFDS copy of the dataset into `data_dir` "
            f"(or TFDS_DATA_DIR). Received: name={name!r}, data_dir={data_dir!r}"
        ) from e
    return builder.as_dataset(
        split=split, as_supervised=True, shuffle_files=False, decoders=decoders
    )
