"""Export a trained student as a TF Serving SavedModel (raw uint8 images in; docs/serving.md)."""

import contextlib
import hashlib
import json
import os
import shutil
import tempfile

import keras
import tensorflow as tf

from kr_keras.data import registry
from kr_keras.models.fingerprint import weights_fingerprint
from kr_keras.models.tap import model_io

FINGERPRINT_FILE = os.path.join("assets.extra", "kr_keras_export.json")


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yields a temporary path beside `path`, renamed onto it on success.

    Files and directories; on error the temporary path is removed, so `path`
    only ever holds a complete result.

    Example:

    ```python
    with atomic_path("out.keras", suffix=".keras") as tmp:
        model.save(tmp)
    ```
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    base = os.path.basename(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.tmp-", suffix=suffix, dir=directory)
    os.close(fd)
    os.remove(tmp)
    try:
        yield tmp
        if os.path.isdir(tmp) and os.path.isdir(path):
            old = tmp + ".old"
            os.rename(path, old)
            os.rename(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.exists(tmp):
            os.remove(tmp)


def normalization(dataset, data_dir=None):
    """The per-channel `(mean, std)` on the [0, 1] scale that
    `kr_keras.data.load(dataset, ...)` standardises with."""
    builder = registry.get(dataset)
    mean, std = getattr(builder, "mean", None), getattr(builder, "std", None)
    if mean is None or std is None:
        source = builder.source(builder.info().eval_split, data_dir=data_dir)
        mean, std = source.mean, source.std
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)


def _user_normalization(pair, channels):
    """`(mean, std)` float tuples of a user's pair, checked against the channels."""
    try:
        mean, std = (tuple(float(v) for v in values) for values in pair)
    except (TypeError, ValueError) as error:
        raise ValueError("`dataset` takes a kr_keras.data dataset name or a (mean, std) pair "
                         f"of per-channel sequences. Received: dataset={pair!r}") from error
    if len(mean) != channels or len(std) != channels or min(std) <= 0:
        raise ValueError(f"The (mean, std) pair needs {channels} values each (the student's "
                         f"input channels), std > 0. Received: mean={mean}, std={std}")
    return mean, std


def model_fingerprint(model):
    """SHA-256 of a model's architecture config and weights."""
    config = json.dumps(model.get_config(), sort_keys=True, default=str)
    return hashlib.sha256((config + weights_fingerprint(model)).encode()).hexdigest()


def serving_archive(student, mean, std):
    """A `keras.export.ExportArchive` whose `serving_default` maps raw uint8 images to
    `probabilities` and `classes`, normalising with `mean`, `std` (docs/serving.md)."""
    shape = model_io(student)[0]
    mean = tf.constant(mean, tf.float32)
    std = tf.constant(std, tf.float32)

    archive = keras.export.ExportArchive()
    archive.track(student)

    # -1: a dimension of any size (a student built on keras.Input((None, None, C))).
    expected = tf.constant([-1 if d is None else d for d in shape], tf.int32)
    message = (f"kr_keras: serving_default takes uint8 images of shape "
               f"[batch, {', '.join(str(d) for d in shape)}]; Received: images.shape =")

    @tf.function(input_signature=[tf.TensorSpec((None, *shape), tf.uint8, name="images")])
    def serve(images):
        # The signature's static shape is not enforced when it is called
        # (docs/serving.md): check at run time. A sentinel-padded shape compares
        # at any rank (the signature's static rank would fold a rank test away).
        actual = tf.shape(images)
        padded = tf.concat([actual, tf.fill([len(shape) + 2], -1)], axis=0)
        dims = padded[1:len(shape) + 1]
        fits = tf.logical_and(tf.reduce_all((dims == expected) | (expected < 0)),
                              tf.equal(padded[len(shape) + 1], -1))
        check = tf.debugging.Assert(fits, [message, actual], summarize=8,
                                    name="check_image_shape")
        # Automatic control dependencies run the check but do not order it:
        # the conv's own error could fire first. Make the model wait for it.
        with tf.control_dependencies([check]):
            images = tf.identity(images)
        x = (tf.cast(images, tf.float32) / 255.0 - mean) / std
        logits = tf.cast(student(x, training=False), tf.float32)
        probabilities = tf.nn.softmax(logits, axis=-1)
        return {
            "probabilities": probabilities,
            "classes": tf.argmax(probabilities, axis=-1, output_type=tf.int64),
        }

    archive.add_endpoint("serving_default", serve)
    return archive


def export_student(student, dataset, export_dir, overwrite=False, data_dir=None):
    """Writes `student` as a SavedModel into `export_dir` (atomically).

    Re-exporting the same model is a no-op; usage: docs/serving.md.

    Args:
        student: The trained student (`keras.Model`, logits out).
        dataset: The `kr_keras.data` dataset name whose normalisation the
            serving graph applies, or that normalisation as a `(mean, std)`
            pair of per-channel sequences on the [0, 1] scale (the graph
            computes `(images / 255 - mean) / std`).
        export_dir: Target directory, usually `saved_models/<name>/<version>/`.
        overwrite: Replace a different model already in `export_dir`.
        data_dir: Data directory (only for user datasets' statistics).

    Returns:
        `export_dir`.

    Raises:
        ValueError: `export_dir` holds a different model and not `overwrite`.
    """
    export_dir = os.fspath(export_dir)
    fingerprint = model_fingerprint(student)
    if os.path.exists(export_dir) and os.listdir(export_dir):
        recorded = None
        record = os.path.join(export_dir, FINGERPRINT_FILE)
        if os.path.exists(record):
            with open(record) as f:
                recorded = json.load(f).get("fingerprint")
        if recorded == fingerprint:
            return export_dir
        if not overwrite:
            raise ValueError(
                "The export directory already holds a different model; choose another "
                "--version/--name or pass --overwrite. "
                f"Received: export_dir={export_dir!r}"
            )
    if isinstance(dataset, str):
        mean, std = normalization(dataset, data_dir)
    else:
        mean, std = _user_normalization(dataset, model_io(student)[0][-1])
        dataset = None
    archive = serving_archive(student, mean, std)
    with atomic_path(export_dir) as tmp:
        archive.write_out(tmp, verbose=False)
        os.makedirs(os.path.join(tmp, "assets.extra"), exist_ok=True)
        with open(os.path.join(tmp, FINGERPRINT_FILE), "w") as f:
            json.dump({"fingerprint": fingerprint, "dataset": dataset, "model": student.name,
                       "mean": mean, "std": std}, f, indent=1)
    return export_dir
