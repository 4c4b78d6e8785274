"""Feature tapping of functional Keras models by layer name."""

import re
import weakref

import keras

# Block outputs of kr_keras' ResNets (`stage1_block2_out`) and of
# `keras.applications` ResNets (`conv2_block1_out`).
_BLOCK_OUTPUT = re.compile(r"block\d+_out$")


def default_tap_names(model):
    """Names of the residual block outputs (`*block<i>_out`) of `model`, in graph order.

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


def _graph(model):
    """The functional graph of `model` (`None` for a subclassed model)."""
    if isinstance(model, keras.Sequential):
        return getattr(model, "_functional", None)
    if getattr(model, "inputs", None) is None or not hasattr(model, "_run_through_graph"):
        return None
    return model


def _inline(graph, inputs):
    """Runs `graph` on `inputs`, calling nested functional models layer by layer."""
    def operation(op):
        inner = _graph(op) if isinstance(op, keras.Model) else None
        if inner is None:
            return op
        return lambda *args, **kwargs: _inline(inner, args[0] if len(args) == 1 else list(args))

    return graph._run_through_graph(inputs, operation_fn=operation)


def model_io(model, role="model"):
    """`(input shape without the batch axis, output units)` of a built model
    (of a subclassed one: from the shape it was built or first called on).

    Raises:
        ValueError: naming the fix, when the model is not built.

    Example:

    >>> model_io(kr_keras.models.cifar_resnet(8, input_shape=(8, 8, 1)))
    ((8, 8, 1), 10)
    """
    if getattr(model, "inputs", None) is not None:
        return tuple(model.inputs[0].shape[1:]), model.outputs[0].shape[-1]
    shapes = list((getattr(model, "_build_shapes_dict", None) or {}).values())
    if not model.built or len(shapes) != 1:
        raise ValueError(
            f"The {role} '{model.name}' is not built. Build it with the functional API "
            "(keras.Input) or keras.Sequential with an input shape, load it from a "
            ".keras file, or call a subclassed model once on a batch of images. "
            f"Received: {role}.built={model.built}")
    shape = tuple(shapes[0])
    return shape[1:], model.compute_output_spec(keras.KerasTensor(shape)).shape[-1]


def require_graph(model, role, method):
    """Raises a ValueError naming the fix unless `model` has a functional
    graph whose layers `method` can tap (`role`: teacher or student)."""
    if _graph(model) is None:
        model_io(model, role)  # an unbuilt model: that fix first
        raise ValueError(
            f"{method} taps layers of the {role}, but '{model.name}' is a subclassed "
            "model (no functional graph), so its layers' outputs cannot be tapped. "
            "Build it with the functional API or keras.Sequential, or use a method "
            "on the logits alone (ce, kd, dkd, kdgan). "
            f"Received: {role}={type(model).__name__}")


def _output_in(model, name):
    """Layer `name`'s output in `model`'s own graph (`inline_nested` calls it elsewhere too)."""
    layer = model.get_layer(name)
    if len(layer._inbound_nodes) > 1:
        for nodes in _graph(model)._nodes_by_depth.values():
            for node in nodes:
                if node.operation is layer:
                    return node.outputs[0]
    return layer.output


_FLAT = weakref.WeakKeyDictionary()  # functional graph -> its inline_nested model


def inline_nested(model):
    """`model` with the layers of its nested functional models called in one
    flat graph (the same layer objects), so that they can be tapped by name.

    A model without nested functional models, or whose flat graph would
    repeat a layer name, is returned as it is (docs/methods_zoo.md, "Taps").

    Example:

    >>> backbone = kr_keras.models.cifar_resnet(8, input_shape=(8, 8, 1))
    >>> outer = keras.Sequential([keras.Input((8, 8, 1)), backbone])
    >>> "stage3_block1_out" in [layer.name for layer in inline_nested(outer).layers]
    True
    """
    graph = _graph(model)
    if graph is None or not any(isinstance(layer, keras.Model) and _graph(layer) is not None
                                for layer in model.layers):
        return model
    # One flat model per graph (a Sequential that grows gets a new graph), so that
    # the builders and the Distiller share it and layers are not called per build.
    if graph not in _FLAT:
        inputs = [keras.Input(batch_shape=t.shape, dtype=t.dtype) for t in graph.inputs]
        inputs = inputs[0] if len(inputs) == 1 else inputs
        outputs = _inline(graph, inputs)
        try:
            _FLAT[graph] = keras.Model(inputs, outputs, name=model.name)
        except ValueError:  # e.g. a name used by the outer and a nested model
            _FLAT[graph] = model
    return _FLAT[graph]


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
    require_graph(model, "model", "tap()")
    if layer_names is None:
        layer_names = default_tap_names(model)
    available = {layer.name for layer in model.layers}
    missing = [n for n in layer_names if n not in available]
    if missing:
        raise ValueError(
            f"Model '{model.name}' has no layer(s) {missing}. Available "
            f"layers: {[layer.name for layer in model.layers]}"
        )
    features = [_output_in(model, n) for n in layer_names]
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs  # as it is called
    return keras.Model(inputs, [model.outputs[0], *features], name=f"{model.name}_tapped")


FEATURE_TAP_KINDS = ("stages", "preactivation", "boundaries", "middle", "last", "embedding")
_ACTIVATIONS = (keras.layers.ReLU, keras.layers.Activation, keras.layers.LeakyReLU,
                keras.layers.ELU, keras.layers.PReLU)


def _feature_maps(model):
    """`[(name, (h, w))]` of the layers with one 4D output, in graph order
    (the input and zero-padding layers left out)."""
    maps = []
    for layer in model.layers:
        if isinstance(layer, (keras.layers.InputLayer, keras.layers.ZeroPadding2D)):
            continue
        try:
            shape = layer.output.shape
        except (AttributeError, ValueError):  # several outputs, or a shared layer
            continue
        if len(shape) == 4:
            maps.append((layer.name, tuple(shape[1:3])))
    return maps


def feature_taps(model, kind="stages"):
    """Default feature taps of a functional classifier (every feature method).

    The stage ends are, for each spatial resolution of the 4D feature maps,
    the last layer (in graph order) that outputs it; RepDistiller's
    equivalents: docs/methods_zoo.md, "Taps".

    Args:
        model: A functional `keras.Model` (channels-last maps).
        kind: `"stages"`: the stage ends; `"preactivation"`: the layer
            feeding each stage end that is an activation layer, else the end
            itself; `"boundaries"`: the first activation at the first stage
            end's resolution (the stem) and the stage ends; `"middle"`: the
            middle stage end (`ends[(n - 1) // 2]`); `"last"`: the last stage
            end; `"embedding"`: the last global pooling layer, else the layer
            feeding the logits layer.

    Returns:
        A list of layer names, in graph order.

    Raises:
        ValueError: for an unknown `kind`, or a model without such maps.

    Example:

    >>> net = kr_keras.models.cifar_resnet(8, input_shape=(8, 8, 1))
    >>> feature_taps(net), feature_taps(net, "embedding")
    (['stage1_block1_out', 'stage2_block1_out', 'stage3_block1_out'], ['pool'])
    """
    if kind not in FEATURE_TAP_KINDS:
        raise ValueError(f"`kind` must be one of {FEATURE_TAP_KINDS}. Received: kind={kind!r}")
    if kind == "embedding":
        return [_embedding_name(model)]
    maps = _feature_maps(model)
    if not maps:
        raise ValueError(f"Model '{model.name}' has no 4D feature map to tap; name the "
                         f"layers explicitly. Received: model.name={model.name!r}")
    last = {size: name for name, size in maps}
    order = [name for name, _ in maps]
    ends = sorted(last.values(), key=order.index)
    if kind == "last":
        return ends[-1:]
    if kind == "middle":
        return [ends[(len(ends) - 1) // 2]]
    if kind == "preactivation":
        return [_input_name(model.get_layer(n)) if isinstance(model.get_layer(n), _ACTIVATIONS)
                else n for n in ends]
    if kind == "boundaries":
        first = order.index(ends[0])
        stem = [n for n, s in maps[:first]
                if s == maps[first][1] and isinstance(model.get_layer(n), _ACTIVATIONS)]
        return stem[:1] + ends
    return ends


def _input_name(layer):
    return layer.input._keras_history.operation.name


def _embedding_name(model):
    pools = [layer.name for layer in model.layers if type(layer).__name__.startswith("Global")
             and "Pooling" in type(layer).__name__]
    if pools:
        return pools[-1]
    feeding = _input_name(model.outputs[0]._keras_history.operation)
    if isinstance(model.get_layer(feeding), keras.layers.InputLayer):
        raise ValueError(f"Model '{model.name}' has no embedding before its logits; name "
                         f"the layer explicitly. Received: model.name={model.name!r}")
    return feeding
