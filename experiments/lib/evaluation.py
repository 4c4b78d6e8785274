"""Evaluation of a saved model: accuracy, top-5, parameters, FLOPs, speed."""

import time

import keras
import numpy as np
import tensorflow as tf

from kr_keras import data
from kr_keras.callbacks import recompute_batch_norm_statistics


def accuracy(model, dataset, top_k=(1, 5)):
    """Top-k accuracies of a logits model on a `(images, labels)` dataset.

    Args:
        model: A `keras.Model` returning logits, called with `training=False`.
        dataset: Batched `tf.data.Dataset` of `(images, int labels)`.
        top_k: The k's to report (`k` larger than the class count is skipped).

    Returns:
        `{"accuracy": ..., "top5_accuracy": ..., "examples": n}` (top-1 is
        named `accuracy`).
    """
    classes = model.outputs[0].shape[-1]
    ks = [k for k in top_k if k <= classes]

    @tf.function
    def correct(x, y):
        logits = tf.cast(model(x, training=False), tf.float32)
        y = tf.cast(y, tf.int32)
        return [tf.reduce_sum(tf.cast(tf.math.in_top_k(y, logits, k), tf.int64)) for k in ks]

    hits = np.zeros(len(ks), np.int64)
    count = 0
    for x, y in dataset:
        hits += np.array([int(c) for c in correct(x, y)])
        count += int(tf.shape(y)[0])
    result = {}
    for k, h in zip(ks, hits):
        result["accuracy" if k == 1 else f"top{k}_accuracy"] = float(h / max(count, 1))
    result["examples"] = count
    return result


def check_precise_bn_samples(samples):
    """Raises `ValueError` unless `samples` is an integer >= 0 (0 = off)."""
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 0:
        raise ValueError("`precise_bn_samples` must be an integer >= 0 (0 = off). "
                         f"Received: precise_bn_samples={samples!r}")


def _layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _layers(layer)
        else:
            yield layer


def count_flops(model):
    """Floating-point operations of one forward pass of one image.

    Counted analytically from the Conv2D, DepthwiseConv2D and Dense layers
    (2 FLOPs per multiply-accumulate; biases, batch norm, activations and
    pooling are ignored, as in most papers' FLOP counts).

    Example:

    >>> count_flops(keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)]))
    24
    """
    macs = 0
    for layer in _layers(model):
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
            kh, kw = layer.kernel_size
            out = layer.output.shape
            # Each output channel reads one input channel (depthwise) or c_in / groups.
            depthwise = isinstance(layer, keras.layers.DepthwiseConv2D)
            fan_in = 1 if depthwise else layer.input.shape[-1] // layer.groups
            macs += out[1] * out[2] * out[3] * kh * kw * fan_in
        elif isinstance(layer, keras.layers.Dense):
            c_in = layer.input.shape[-1]
            macs += int(np.prod(layer.output.shape[1:-1] or [1])) * c_in * layer.units
    return int(2 * macs)


def images_per_second(model, batch, repeats=5):
    """Inference throughput (`training=False`) on `batch`, after one warm-up."""
    fn = tf.function(lambda x: model(x, training=False))
    fn(batch)
    start = time.perf_counter()
    for _ in range(repeats):
        out = fn(batch)
    np.asarray(out)
    return float(repeats * int(batch.shape[0]) / (time.perf_counter() - start))


def evaluate_saved(model, dataset, batch_size=256, take=None, precise_bn_samples=0, seed=0):
    """Everything the `evaluate` binary reports for `model` on `dataset`.

    Args:
        model: A logits `keras.Model`.
        dataset: A `kr_keras.data` dataset name.
        batch_size: Evaluation batch size.
        take: Evaluate on the first N images of the evaluation split.
        precise_bn_samples: If > 0, first re-estimate the model's batch-norm
            statistics (in memory) on this many augmented training images
            (precise BN), e.g. for a model saved without it.
        seed: Seed of those training images' order and augmentation.

    Returns:
        Dict: `accuracy`, `top1_error` (+ `top5_accuracy`, `top5_error` with
        100 or more classes), `examples`, `split` (the dataset's
        `eval_split`), `params`, `flops`, `images_per_second`,
        `precise_bn_samples` (the images used; 0: none).
    """
    info = data.info(dataset)
    shape = tuple(model.inputs[0].shape[1:])
    if shape != tuple(info.image_shape):
        raise ValueError(
            f"The model takes {shape} images but {dataset!r} has {tuple(info.image_shape)}. "
            f"Received: dataset={dataset!r}"
        )
    check_precise_bn_samples(precise_bn_samples)
    used = 0
    if precise_bn_samples:
        train = data.load(dataset, "train", min(batch_size, precise_bn_samples), seed=seed,
                          shuffle=True, augment=True)
        used = recompute_batch_norm_statistics(model, train, precise_bn_samples)
    ds = data.load(dataset, info.eval_split, batch_size, take=take)
    top_k = (1, 5) if info.num_classes > 5 and model.outputs[0].shape[-1] >= 100 else (1,)
    result = accuracy(model, ds, top_k)
    result["split"] = info.eval_split
    result["top1_error"] = 1.0 - result["accuracy"]
    if "top5_accuracy" in result:
        result["top5_error"] = 1.0 - result["top5_accuracy"]
    batch = next(iter(ds))[0]
    result.update(
        precise_bn_samples=used,
        params=int(model.count_params()),
        flops=count_flops(model),
        images_per_second=images_per_second(model, batch),
    )
    return result
