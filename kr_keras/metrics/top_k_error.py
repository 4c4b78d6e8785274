"""`TopKError`: the top-k error the ImageNet tables report (1 - top-k accuracy)."""

import keras


@keras.saving.register_keras_serializable(package="kr_keras")
class TopKError(keras.metrics.SparseTopKCategoricalAccuracy):
    """Fraction of examples whose label is not among the `k` highest logits.

    `1 - keras.metrics.SparseTopKCategoricalAccuracy`; the paper's Tab. 3
    (ILSVRC 2012) reports top-1 and top-5 *errors*. Works on logits or
    probabilities (only the ranking matters).

    Args:
        k: How many top predictions count as correct.
        name: Metric name; defaults to `top{k}_error`.
        dtype: Metric dtype.

    Example:

    >>> metric = TopKError(k=1)
    >>> metric.update_state([2, 0], [[0.1, 0.2, 0.7], [0.1, 0.8, 0.1]])
    >>> float(metric.result())
    0.5
    """

    def __init__(self, k=5, name=None, dtype=None, **kwargs):
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"`k` must be an int >= 1. Received: k={k!r}")
        super().__init__(k=k, name=name or f"top{k}_error", dtype=dtype, **kwargs)

    def result(self):
        return 1.0 - super().result()


def imagenet_metrics():
    """`[TopKError(1), TopKError(5)]`, named `top1_error` and `top5_error`.

    Example:

    ```python
    distiller.compile(optimizer=..., metrics=kr_keras.metrics.imagenet_metrics())
    logs = distiller.evaluate(val_ds, return_dict=True)
    logs["top1_error"], logs["top5_error"]
    ```
    """
    return [TopKError(k=1), TopKError(k=5)]


def top_k_errors(model, dataset, ks=(1, 5)):
    """Top-k errors of `model` (logits out) on a `(images, labels)` dataset.

    Calls `model(images, training=False)` on every batch, so it
    works for a student, a teacher or a distiller (whose `call` is the
    student), compiled or not.

    Args:
        model: A `keras.Model` returning `[batch, classes]` logits.
        dataset: Iterable of `(images, labels)` batches (e.g.
            `kr_keras.data.load("imagenet2012", "validation", 256)`).
        ks: The `k`s to report.

    Returns:
        A dict `{"top1_error": float, "top5_error": float}`.
    """
    metrics = [TopKError(k=k) for k in ks]
    for images, labels in dataset:
        logits = model(images, training=False)
        for metric in metrics:
            metric.update_state(labels, logits)
    return {metric.name: float(metric.result()) for metric in metrics}
