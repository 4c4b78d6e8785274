"""What the method modules share: their taps and Keras' replica reduction.

Every `compute_loss` returns its batch mean divided by the replicas in sync,
as Keras' reducing losses do (docs/methods.md, "Replicas and precision").
"""

import math

import keras
import tensorflow as tf

from kr_keras.models.tap import feature_taps


def scale_for_replicas(value):
    """`value / num_replicas_in_sync` (unchanged on one device), float32.

    Example:

    >>> float(scale_for_replicas(tf.constant(3.0)))
    3.0
    """
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return tf.cast(value, tf.float32) * (1.0 / replicas)


def global_batch(x):
    """`x` of every replica in sync, concatenated in replica order (`x` on
    one device), for the losses relating a batch's samples (SP, CC, RKD,
    PKT): docs/methods_zoo.md, "Taps"."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None or tf.distribute.get_strategy().num_replicas_in_sync == 1:
        return x
    return ctx.all_gather(x, axis=0)


def epochs_of_run(value, epochs=None):
    """An epoch count given as an int (kept), or as a fraction of the run in
    (0, 1): `max(1, round(value * epochs))`, 1 while `epochs` is unknown.

    Example:

    >>> epochs_of_run(20 / 240, 240), epochs_of_run(20 / 240, 4), epochs_of_run(3, 4)
    (20, 1, 3)
    """
    if isinstance(value, float) and 0 < value < 1:
        return max(1, round(value * epochs)) if epochs else 1
    return int(value)


def loss_alone_stage(epochs, weights):
    """The stage list of a method run first alone for `epochs` (AB's, FSP's
    reference form): no cross-entropy, `weights` on its losses; `[]` for
    `epochs` `None` or 0."""
    if not epochs:
        return []
    return [{"epochs": epochs, "student_loss_weight": 0.0, "distillation_loss_weights": weights}]


def mean_and_rank():
    """`(all-reduce mean, replica id)` over the replicas in sync (CRD's `z`
    and its slice of the global batch)."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None or tf.distribute.get_strategy().num_replicas_in_sync == 1:
        return (lambda x: x), 0
    return (lambda x: ctx.all_reduce("MEAN", x)), ctx.replica_id_in_sync_group


def flatten(feature):
    """`[batch, -1]` float32 view of a map or embedding."""
    f = tf.cast(feature, tf.float32)
    return tf.reshape(f, [tf.shape(f)[0], -1])


def build_embeddings(owner, feat_dim, teacher_shape, student_shape):
    """Sets `owner.embed_s` and `owner.embed_t`: `Dense(feat_dim)` over each
    flattened tap (RepDistiller's `LinearEmbed` / `Embed`), built."""
    for side, shape in (("s", student_shape), ("t", teacher_shape)):
        embed = keras.layers.Dense(feat_dim, name=f"embed_{side}")
        embed.build((None, math.prod(shape[1:])))
        setattr(owner, f"embed_{side}", embed)


def tap_names(layers):
    """`None` (the default taps), or a list of names from one name or many."""
    if layers is None or isinstance(layers, str):
        return layers if layers is None else [layers]
    return list(layers)


def paired_taps(method, teacher, student, teacher_layers, student_layers, kind="stages",
                rank=4, check=None, sized=False):
    """`[(teacher layer, student layer), ...]`: the taps of every feature method.

    Defaults, pairing and fallbacks: docs/methods_zoo.md, "Taps".

    Args:
        method: The method's name, for the errors.
        teacher, student: The functional models.
        teacher_layers, student_layers: A layer name, a list of names, or
            `None` for the default.
        kind: The default's kind (`feature_taps`).
        rank: Required rank of the tapped outputs (`None`: any).
        check: Optional `check(teacher_shape, student_shape)`, returning a
            problem string or None.
        sized: Whether the method needs the maps' height and width
            (`require_known_sizes`).

    Raises:
        ValueError: naming the method, the layers, their shapes and the fix.
    """
    fix = (f"Pass teacher_layers= and student_layers= (a layer name or a list, one per "
           f"pair) naming layers {method} can use. Received: teacher_layers="
           f"{teacher_layers!r}, student_layers={student_layers!r}")
    names = []
    for model, layers in ((teacher, teacher_layers), (student, student_layers)):
        try:
            names.append(tap_names(layers) if layers is not None else feature_taps(model, kind))
        except ValueError as error:  # no default taps
            raise ValueError(f"{method}: {str(error).split(' Received:')[0]} {fix}") from error
    n = min(len(names[0]), len(names[1]))
    if (teacher_layers, student_layers) == (None, None):
        names = [side[len(side) - n:] for side in names]
    if not names[0] or len(names[0]) != len(names[1]):
        raise ValueError(f"{method} pairs one teacher tap with each student tap, but has "
                         f"teacher taps {names[0]} and student taps {names[1]}. {fix}")
    for model, role, layers in ((teacher, "teacher", names[0]), (student, "student", names[1])):
        missing = [n for n in layers if n not in {layer.name for layer in model.layers}]
        if missing:
            raise ValueError(f"{method}: the {role} '{model.name}' has no layer(s) {missing}. "
                             f"{fix}")
        if sized:
            require_known_sizes(method, model, role, layers)
    def problem_of(t, s):
        shapes = [tuple(m.get_layer(n).output.shape) for m, n in ((teacher, t), (student, s))]
        return shapes, (f"it needs outputs of rank {rank}"
                        if rank and {len(shape) for shape in shapes} != {rank}
                        else check(*shapes) if check else None)

    # Both defaults: a pair that does not fit may take another of the teacher's taps.
    pool = (feature_taps(teacher, "stages" if kind in ("middle", "last") else kind)
            if (teacher_layers, student_layers) == (None, None) else [])
    for i, (t, s) in enumerate(zip(*names)):
        shapes, problem = problem_of(t, s)
        if problem and t in pool:  # networks of other depths: the nearest tap that fits
            fits = [e for e in sorted(pool, key=lambda e: abs(pool.index(e) - pool.index(t)))
                    if e not in names[0] and not problem_of(e, s)[1]]
            if fits:
                names[0][i], problem = fits[0], None
        if problem:
            raise ValueError(f"{method} cannot pair teacher layer '{t}' (output shape "
                             f"{shapes[0]}) with student layer '{s}' (output shape "
                             f"{shapes[1]}): {problem}. {fix}")
    return list(zip(*names))


def require_known_sizes(method, model, role, names):
    """Raises a ValueError naming the fix when a tapped 4D map of `model`
    has an unknown height or width (a model built on `keras.Input((None,
    None, C))`): `method` sizes its helpers from them."""
    for name in names:
        shape = tuple(model.get_layer(name).output.shape)
        if len(shape) == 4 and None in shape[1:3]:
            raise ValueError(
                f"{method} needs the height and width of the {role}'s map '{name}', but its "
                f"output shape is {shape}. Rebuild the {role} on your training images' shape: "
                f"`fixed = keras.models.clone_model({role}, input_tensors=keras.Input((H, W, "
                f"C)))`, then `fixed.set_weights({role}.get_weights())`. Received: {role} "
                f"'{model.name}' with input shape {tuple(model.inputs[0].shape)}")


def paired_losses(make, weight, method, teacher, student, teacher_layers, student_layers,
                  **tap_args):
    """`([make(t, s) for each pair of paired_taps(...)], [weight] * pairs)`."""
    pairs = paired_taps(method, teacher, student, teacher_layers, student_layers, **tap_args)
    return [make(t, s) for t, s in pairs], [weight] * len(pairs)


class TappedLoss(keras.distillation.DistillationLoss):
    """Base of the losses on named taps: stores the teacher's and the
    student's layer name (or list of names), checks that the models have
    them, and serialises them with the attributes named in the subclass's
    `CONFIG` (its own arguments).

    Args:
        teacher_layer_name: A teacher layer name or a list of them.
        student_layer_name: A student layer name or a list of them.
    """

    CONFIG = ()

    def __init__(self, teacher_layer_name, student_layer_name):
        self.teacher_layer_name = teacher_layer_name
        self.student_layer_name = student_layer_name

    def validate_model_compatibility(self, teacher, student):
        for model, names in ((teacher, self.teacher_layer_name),
                             (student, self.student_layer_name)):
            for name in tap_names(names):
                model.get_layer(name)

    def get_config(self):
        keys = ("teacher_layer_name", "student_layer_name", *self.CONFIG)
        return {k: getattr(self, k) for k in keys}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class HelperLoss(keras.layers.Layer, keras.distillation.DistillationLoss):
    """Base of the losses on two named taps that own trainable helpers.

    A `keras.layers.Layer`, so distillers track, train and save its
    helpers. `validate_model_compatibility` builds them once, through the
    subclass's `build_helpers(teacher_shape, student_shape)` (the tapped
    layers' output shapes); `get_config` adds the attributes named in the
    subclass's `CONFIG`.

    Args:
        teacher_layer_name: Name of the teacher layer to tap.
        student_layer_name: Name of the student layer to tap.
        **kwargs: Base layer keyword arguments.
    """

    CONFIG = ()

    def __init__(self, teacher_layer_name, student_layer_name, **kwargs):
        super().__init__(**kwargs)
        self.teacher_layer_name = teacher_layer_name
        self.student_layer_name = student_layer_name

    def validate_model_compatibility(self, teacher, student):
        if not self.built:
            self.build_helpers(teacher.get_layer(self.teacher_layer_name).output.shape,
                               student.get_layer(self.student_layer_name).output.shape)
        self.built = True

    def get_config(self):
        return {**super().get_config(), **TappedLoss.get_config(self)}
