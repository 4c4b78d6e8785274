"""Feature tapping of functional Keras models by layer name."""

import re

import keras

# Block outputs of kr_keras' ResNets (`stage1_block2_out`) and of
# `keras.applications` ResNets (`conv2_block1_out`).
_BLOCK_OUTPUT = re.compile(r"block\d+_out$")


def default_tap_names(model):
    """Names of the residual block outputs of `model`, in graph order.

    Layers whose name ends in `block<i>_out` are taken (kr_keras' CIFAR and
    ImageNet ResNets, `keras.applications` ResNets).

    Raises:
        ValueError: if the model has no such layer (pass names explicitly).
    """
    names = [layer.name for layer in model.layers
             if _BLOCK_OUTPUT.search(layer.name)]
    if not names:
        raise ValueError(
            f"Model '{model.name}' has no layer named like '*block<i>_out', so "
            "the residual block outputs cannot be found automatically. Pass "
            "the layer names to tap explicitly. Available layers: "
            f"{[layer.name for layer in model.layers]}"
        )
    return names


def tap(model, layer_names=None):
    """A model that returns `[logits, *features]` of a functional `model`.

    Args:
        model: A functional (or Sequential) `keras.Model` whose first output
            is the logits.
        layer_names: Names of the layers whose outputs to return, in order.
            Defaults to the residual block outputs (`default_tap_names`).

    Returns:
        A `keras.Model` sharing `model`'s layers and weights, whose outputs are
        `[model.outputs[0], *(model.get_layer(n).output for n in layer_names)]`.

    Example:

    >>> net = kr_keras.models.cifar_resnet(8, input_shape=(28, 28, 1))
    >>> logits, *features = tap(net)(keras.ops.zeros([1, 28, 28, 1]))
    >>> len(features)
    3
    """
    if getattr(model, "inputs", None) is None:
        raise ValueError(
            f"Model '{model.name}' is subclassed (no symbolic inputs), so its "
            "layers cannot be tapped. Build it with the functional API or "
            "keras.Sequential."
        )
    if layer_names is None:
        layer_names = default_tap_names(model)
    available = {layer.name for layer in model.layers}
    missing = [n for n in layer_names if n not in available]
    if missing:
        raise ValueError(
            f"Model '{model.name}' has no layer(s) {missing}. Available "
            f"layers: {[layer.name for layer in model.layers]}"
        )
    features = [model.get_layer(n).output for n in layer_names]
    return keras.Model(
        model.inputs, [model.outputs[0], *features], name=f"{model.name}_tapped"
    )


def pooled_feature_name(model):
    """Name of the last global pooling layer of `model`: the pooled embedding
    before the classifier (RepDistiller's `feat[-1]`), `"pool"` in kr_keras'
    ResNets, `"avg_pool"` in `keras.applications` ResNets.

    Raises:
        ValueError: if the model has no global pooling layer.
    """
    pools = [layer.name for layer in model.layers
             if isinstance(layer, (keras.layers.GlobalAveragePooling2D,
                                   keras.layers.GlobalMaxPooling2D))]
    if not pools:
        raise ValueError(
            f"Model '{model.name}' has no global pooling layer, so its pooled "
            "embedding cannot be found automatically. Pass the layer name "
            f"explicitly. Available layers: {[l.name for l in model.layers]}"
        )
    return pools[-1]
