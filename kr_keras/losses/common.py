"""What the method modules share: default taps and Keras' replica reduction.

Every `DistillationLoss` of kr_keras returns from `compute_loss` its batch
mean divided by the number of replicas in sync, as Keras' own reducing
losses do (`keras.losses.Loss` under `tf.distribute`): the gradients that
`tf.distribute` sums over replicas then equal the one-device gradient, in
`keras.distillation.Distiller` as in `kr_keras.distillers.Distiller`. The
pure loss functions (`kd_loss`, `at_loss`, ...) return plain batch means.
"""

import math

import keras
import tensorflow as tf

from kr_keras.models.tap import default_tap_names


def scale_for_replicas(value):
    """`value / num_replicas_in_sync` (unchanged on one device), float32.

    Example:

    >>> float(scale_for_replicas(tf.constant(3.0)))
    3.0
    """
    value = tf.cast(value, tf.float32)
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if replicas > 1:
        value = value * (1.0 / replicas)
    return value


def global_batch(x):
    """`x` of every replica in sync, concatenated in replica order (`x` on
    one device): losses that relate a batch's samples to each other (SP, CC,
    RKD, PKT) take it so that each replica computes the global batch's loss,
    as one device does; `all_gather`'s gradient returns each replica its
    own samples' part."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None or tf.distribute.get_strategy().num_replicas_in_sync == 1:
        return x
    return ctx.all_gather(x, axis=0)


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


def stage_end_names(model):
    """Names of the block outputs that end a stage (the next block's output
    has another shape, or it is the last), in graph order: RepDistiller's
    `feat[1:-1]` of a ResNet.

    Example:

    >>> net = kr_keras.models.cifar_resnet(8, input_shape=(8, 8, 1))
    >>> stage_end_names(net)
    ['stage1_block1_out', 'stage2_block1_out', 'stage3_block1_out']
    """
    names = default_tap_names(model)
    shapes = [tuple(model.get_layer(n).output.shape[1:]) for n in names]
    return [n for i, n in enumerate(names)
            if i == len(names) - 1 or shapes[i + 1] != shapes[i]]


def paired_losses(make, teacher, student, teacher_layers, student_layers, weight,
                  method):
    """`([make(t, s) for each tapped pair], [weight] * pairs)`; taps default
    to the stage ends (see `paired_taps`)."""
    pairs = list(zip(*paired_taps(teacher, student, teacher_layers, student_layers,
                                  method)))
    return [make(t, s) for t, s in pairs], [weight] * len(pairs)


def paired_taps(teacher, student, teacher_layers, student_layers, method):
    """`(teacher_layers, student_layers)`: the given lists, or the stage ends
    of each network for a list left `None` (an explicit `[]` stays empty and
    is an error); raises unless they pair one to one."""
    teacher_layers = (stage_end_names(teacher) if teacher_layers is None
                      else list(teacher_layers))
    student_layers = (stage_end_names(student) if student_layers is None
                      else list(student_layers))
    if not teacher_layers or len(teacher_layers) != len(student_layers):
        raise ValueError(
            f"{method} pairs one teacher tap with each student tap: pass "
            "as many teacher_layers as student_layers (at least one), or "
            "leave both None for the stage ends. Received: "
            f"teacher_layers={teacher_layers}, student_layers={student_layers}"
        )
    return teacher_layers, student_layers


class TappedLoss(keras.distillation.DistillationLoss):
    """Base of the losses on named taps: stores the teacher's and the
    student's layer name (or list of names), checks that the models have
    them, and serialises them (subclasses add their own arguments).

    Args:
        teacher_layer_name: A teacher layer name or a list of them.
        student_layer_name: A student layer name or a list of them.
    """

    def __init__(self, teacher_layer_name, student_layer_name):
        self.teacher_layer_name = teacher_layer_name
        self.student_layer_name = student_layer_name

    def validate_model_compatibility(self, teacher, student):
        for model, names in ((teacher, self.teacher_layer_name),
                             (student, self.student_layer_name)):
            for name in [names] if isinstance(names, str) else names:
                model.get_layer(name)

    def get_config(self):
        return {"teacher_layer_name": self.teacher_layer_name,
                "student_layer_name": self.student_layer_name}

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
        keys = ("teacher_layer_name", "student_layer_name", *self.CONFIG)
        return {**super().get_config(), **{k: getattr(self, k) for k in keys}}
