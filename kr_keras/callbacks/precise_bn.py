"""Precise batch norm: re-estimates BatchNormalization moving statistics.

Reference: Wu & Johnson, "Rethinking 'Batch' in BatchNorm", 2021 (pycls,
detectron2's `PreciseBN`). The why: docs/reliability.md, "Batch-norm statistics".
"""

import keras
import numpy as np
import tensorflow as tf


def _batch_norm_layers(model):
    # Nested models and custom layers included (each shared layer once); frozen
    # BN layers normalise with their moving statistics even in training mode.
    return [layer for layer in model._flatten_layers(include_self=True, recursive=True)
            if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable]


def _check_num_samples(num_samples):
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) \
            or num_samples < 1:
        raise ValueError(
            f"`num_samples` must be a positive integer. Received: num_samples={num_samples!r}")


def recompute_batch_norm_statistics(model, dataset, num_samples=2048):
    """Re-estimates the moving statistics of every BatchNormalization layer.

    Sets each trainable layer's moving mean and variance to the batch-size-weighted
    average of its batch moments, `model` running in training mode on the first
    `num_samples` images of `dataset`; weights are not changed.

    Args:
        model: A `keras.Model` (functional, sequential or subclassed).
        dataset: An iterable of batches (e.g. a `tf.data.Dataset`) yielding
            `x` or `(x, y)` / `(x, y, sample_weight)`; use training images,
            preferably with the training augmentation.
        num_samples: Number of images to average over; iteration stops
            after this many (the last batch is cut to fit).

    Returns:
        The number of images used.

    Raises:
        ValueError: if `num_samples` is not a positive integer or
            `dataset` yields no images.

    Example:

    ```python
    model.fit(train_ds, epochs=4)
    kr_keras.callbacks.recompute_batch_norm_statistics(model, train_ds, 2048)
    model.evaluate(test_ds)
    ```
    """
    _check_num_samples(num_samples)
    layers = _batch_norm_layers(model)
    if not layers:
        return 0
    saved = [(layer.momentum, layer.moving_mean.numpy(), layer.moving_variance.numpy())
             for layer in layers]
    # float64 sums of (mean, variance): a few thousand float32 additions would lose digits.
    sums = [np.zeros((2, *layer.moving_mean.shape), np.float64) for layer in layers]
    used = 0
    try:
        for layer in layers:
            # After each batch the moving statistics then hold its moments.
            layer.momentum = 0.0
            # With momentum 0 the update is `0 * old + batch`: a NaN in the
            # old statistics would survive it.
            layer.moving_mean.assign(np.zeros(layer.moving_mean.shape, np.float32))
            layer.moving_variance.assign(np.ones(layer.moving_variance.shape, np.float32))

        # Traced after momentum is 0 (the layers read it as a Python float).
        @tf.function(reduce_retracing=True)
        def batch_moments(x):
            model(x, training=True)
            return [(layer.moving_mean.value, layer.moving_variance.value) for layer in layers]

        for batch in dataset:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            size = int(tf.shape(tf.nest.flatten(x)[0])[0])
            if size == 0:
                continue
            if used + size > num_samples:
                size = num_samples - used
                x = tf.nest.map_structure(lambda t: t[:size], x)
            for total, moments in zip(sums, batch_moments(x)):
                total += size * np.asarray(moments, np.float64)
            used += size
            if used >= num_samples:
                break
        if used == 0:
            raise ValueError("`dataset` yielded no images to estimate the batch-norm "
                             f"statistics from. Received: dataset={dataset!r}")
    except BaseException:
        for layer, (_, mean, variance) in zip(layers, saved):
            layer.moving_mean.assign(mean)
            layer.moving_variance.assign(variance)
        raise
    finally:
        for layer, (momentum, _, _) in zip(layers, saved):
            layer.momentum = momentum
    for layer, total in zip(layers, sums):
        mean, variance = total / used
        layer.moving_mean.assign(mean.astype(layer.moving_mean.dtype))
        layer.moving_variance.assign(variance.astype(layer.moving_variance.dtype))
    return used


class PreciseBatchNorm(keras.callbacks.Callback):
    """Re-estimates the model's batch-norm statistics during `fit`.

    Runs `recompute_batch_norm_statistics` on `model.student` (distillers) or
    the model before each epoch's validation (else at the epoch's end) and at
    the end of training, whenever batches ran since (docs/reliability.md).

    Args:
        dataset: An iterable of training batches, `x` or `(x, y)` (a finite
            `tf.data.Dataset` is iterated afresh each time).
        num_samples: Images per re-estimation.
        every_epoch: If `True`, after every epoch (before its validation);
            if `False`, only at the end of training.

    Example:

    ```python
    callback = kr_keras.callbacks.PreciseBatchNorm(train_ds, num_samples=2048)
    distiller.fit(train_ds, epochs=4, validation_data=test_ds,
                  callbacks=[callback])
    distiller.student.evaluate(test_ds)   # re-estimated statistics
    ```
    """

    def __init__(self, dataset, num_samples=2048, every_epoch=True):
        super().__init__()
        _check_num_samples(num_samples)
        self.dataset = dataset
        self.num_samples = int(num_samples)
        self.every_epoch = bool(every_epoch)
        self._stale = False
        self._in_fit = False

    def recompute(self):
        """Re-estimates the statistics now; returns the images used."""
        self._stale = False
        model = getattr(self.model, "student", None)
        return recompute_batch_norm_statistics(self.model if model is None else model,
                                               self.dataset, self.num_samples)

    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_train_batch_end(self, batch, logs=None):
        self._stale = True

    def on_test_begin(self, logs=None):
        # Only the validation inside `fit`, once per epoch's new weights.
        if self._in_fit and self.every_epoch and self._stale:
            self.recompute()

    def on_epoch_end(self, epoch, logs=None):
        if self.every_epoch and self._stale:
            self.recompute()

    def on_train_end(self, logs=None):
        self._in_fit = False
        if self._stale:
            self.recompute()
