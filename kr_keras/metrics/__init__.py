"""Metrics: top-k errors for the ImageNet tables."""

from kr_keras.metrics.top_k_error import TopKError
from kr_keras.metrics.top_k_error import imagenet_metrics
from kr_keras.metrics.top_k_error import top_k_errors

__all__ = ["TopKError", "imagenet_metrics", "top_k_errors"]
