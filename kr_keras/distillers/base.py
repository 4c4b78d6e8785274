"""`BaseDistiller`: what `Distiller` and `KRDistiller` share.

The frozen teacher (run in the global compute dtype), taps by layer name,
the `DistillationLoss` terms and the helpers they own, the student loss
with its regularisers outside `student_loss_weight`, one `compile`
signature with its compile config, the loss trackers and the config of the
two models.
"""

import warnings

import keras
import tensorflow as tf

from kr_keras.distillers.common import build_optimizer
from kr_keras.distillers.common import check_teacher_student
from kr_keras.distillers.common import copy_optimizer
from kr_keras.distillers.common import replica_scale
from kr_keras.distillers.common import run_in_global_dtype
from kr_keras.distillers.common import unwrapped
from kr_keras.models.tap import tap


def layer_names(losses, role):
    """The distinct layer names the `losses` tap in the teacher or student
    (`role`), in order (a loss's name is `None`, one name or a list)."""
    names = (getattr(loss, f"{role}_layer_name", None) for loss in losses)
    return list(dict.fromkeys(n for name in names
                              for n in ([name] if isinstance(name, str) else name or [])))


def helper_variables(losses, adversarial):
    """Trainable variables of the loss-owned helpers: those trained on their
    loss's own `helper_loss` (`adversarial=True`: the layers its
    `helper_layers` names, else all of the loss) or on the student's
    objective (the rest)."""
    layers = [l for l in losses if isinstance(l, keras.layers.Layer)]
    own = {id(v) for l in layers if hasattr(l, "helper_loss") for h in
           [getattr(l, n) for n in getattr(l, "helper_layers", ())] or [l]
           for v in h.trainable_variables}
    return [v for l in layers for v in l.trainable_variables if (id(v) in own) == adversarial]


def helper_optimizer(loss, student_optimizer, auxiliary_optimizer, used):
    """The optimizer of one loss's helpers, a fresh instance per loss.

    A loss declares where it comes from: `helper_optimizer = "student"` (a
    copy of the student optimizer's config, e.g. KDGAN's discriminator) or
    `"auxiliary"` (the default): `auxiliary_optimizer` when given (the
    instance itself for the first loss, copies after), else the loss's
    `default_helper_optimizer` (an identifier or config, e.g. KR's SGD(0.1)),
    else a copy of the student's (RepDistiller's joint update). `used` is a
    list the instances handed out are appended to.
    """
    source = getattr(loss, "helper_optimizer", "auxiliary")
    if source not in ("auxiliary", "student"):
        raise ValueError(f"{type(loss).__name__}.helper_optimizer must be 'auxiliary' or "
                         f"'student'. Received: helper_optimizer={source!r}")
    if source == "auxiliary" and auxiliary_optimizer is not None:
        optimizer = keras.optimizers.get(auxiliary_optimizer)
        if optimizer is student_optimizer or any(optimizer is o for o in used):
            optimizer = copy_optimizer(optimizer)
        used.append(optimizer)
        return optimizer
    default = getattr(loss, "default_helper_optimizer", None)
    if source == "auxiliary" and default is not None:
        return keras.optimizers.get(default)
    return copy_optimizer(student_optimizer)


class BaseDistiller(keras.Model):
    """Base of `Distiller` and `KRDistiller` (not registered; subclass it).

    The teacher is frozen, called with `training=False` and, when it was
    saved in float32 (e.g. a loaded `.keras` file), run in the global
    mixed-precision compute dtype. Losses follow Keras' convention: each
    term is a per-replica mean divided by the replicas in sync, so
    `MirroredStrategy` sums gradients to the global mean; the trackers
    report per-example means.

    Args:
        teacher: Trained, built functional `keras.Model` returning logits.
        student: Built functional `keras.Model` returning logits.
        student_loss_weight: Weight of the compiled (cross-entropy) loss;
            the student's regularisers are added outside it.
        name: Model name.
    """

    def __init__(self, teacher, student, student_loss_weight=1.0,
                 name="distiller", **kwargs):
        check_teacher_student(teacher, student)
        if student_loss_weight < 0:
            raise ValueError("`student_loss_weight` must be >= 0. Received: "
                             f"student_loss_weight={student_loss_weight}")
        super().__init__(name=name, **kwargs)
        self.teacher = teacher
        self.student = student
        self.teacher.trainable = False
        run_in_global_dtype(teacher)
        self.student_loss_weight = float(student_loss_weight)
        self.student_loss_tracker = keras.metrics.Mean(name="student_loss")
        self.helper_optimizers = []

    # ------------------------------------------------------------ compile
    def helper_losses(self):
        """The losses that own trainable helpers, one optimizer each."""
        return []

    def compile(self, optimizer=None, loss=None, metrics=None,
                auxiliary_optimizer=None, **kwargs):
        """Configures the optimizers, the student loss and the metrics.

        Args:
            optimizer: Student optimizer: an instance, an identifier string
                (`"sgd"`) or a config dict, as `keras.Model.compile` takes;
                default SGD(0.01, momentum 0.9).
            loss: Student loss on `(y, logits)`; default sparse categorical
                cross-entropy from logits.
            metrics: Metrics of the student logits, e.g. `["accuracy"]`.
            auxiliary_optimizer: Optimizer of the losses' trainable helpers
                (KR's aggregators, FitNet's regressor, ...), taken like
                `optimizer`; each loss gets its own instance. Default per
                loss: its `default_helper_optimizer` (KR: the paper's
                SGD(0.1, momentum 0.9)), else a copy of the student
                optimizer's config. A loss declaring `helper_optimizer =
                "student"` (KDGAN's discriminator) always trains with such a
                copy. Ignored, with a warning, when no loss uses it.
            **kwargs: Passed to `keras.Model.compile` (`jit_compile`, ...).
        """
        config = dict(optimizer=optimizer, loss=loss, metrics=metrics,
                      auxiliary_optimizer=auxiliary_optimizer, **kwargs)
        optimizer = (keras.optimizers.SGD(0.01, momentum=0.9) if optimizer is None
                     else keras.optimizers.get(optimizer))
        loss = loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        used = []
        self.helper_optimizers = [
            build_optimizer(helper_optimizer(l, optimizer, auxiliary_optimizer, used),
                            l.trainable_variables, f"helper_optimizer_{i}")
            for i, l in enumerate(self.helper_losses())]
        if auxiliary_optimizer is not None and not used:
            warnings.warn(f"{self.name} has no helpers trained by auxiliary_optimizer; it "
                          f"ignores auxiliary_optimizer={auxiliary_optimizer!r}.", stacklevel=2)
        optimizer = build_optimizer(optimizer, self.student_variables(), "student_optimizer")
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)
        # Instances are recorded as built; `used[0]` is the one made from
        # auxiliary_optimizer, whichever helper loss took it.
        if isinstance(config["optimizer"], keras.optimizers.Optimizer):
            config["optimizer"] = unwrapped(optimizer)
        if isinstance(config["auxiliary_optimizer"], keras.optimizers.Optimizer):
            config["auxiliary_optimizer"] = used[0] if used else None
        self._compile_arguments = config

    @property
    def auxiliary_optimizer(self):
        """The first helper optimizer (`None` without helpers)."""
        return self.helper_optimizers[0] if getattr(self, "helper_optimizers", None) else None

    def get_compile_config(self):
        """`compile`'s arguments, every optimizer included (schedules too)."""
        if not self.compiled:
            return {}
        return {k: keras.saving.serialize_keras_object(v)
                for k, v in self._compile_arguments.items()}

    def compile_from_config(self, config):
        """Compiles as `get_compile_config()` recorded, so that a reloaded
        distiller trains on with the same optimizers."""
        self.compile(**{k: keras.saving.deserialize_keras_object(v)
                        for k, v in config.items()})

    def student_variables(self):
        """The variables the student optimizer trains."""
        return list(self.student.trainable_variables)

    def call(self, inputs, training=None):
        return self.student(inputs, training=training)

    # -------------------------------------------------------------- steps
    @staticmethod
    def forward(tapped, names, x, training):
        """`(logits, {layer name: output})` of a `tap`ped model."""
        outputs = tapped(x, training=training)
        if not names:  # a model of one output returns it bare
            return outputs, {}
        return outputs[0], dict(zip(names, outputs[1:]))

    def teacher_forward(self, x):
        logits, features = self.forward(self._teacher_tapped, self._teacher_names,
                                        x, training=False)
        return tf.stop_gradient(logits), {k: tf.stop_gradient(v) for k, v in features.items()}

    def student_forward(self, x, training):
        return self.forward(self._student_tapped, self._student_names, x, training)

    def set_taps(self, teacher_names, student_names):
        self._teacher_names, self._student_names = list(teacher_names), list(student_names)
        self._teacher_tapped = tap(self.teacher, self._teacher_names)
        self._student_tapped = tap(self.student, self._student_names)

    @staticmethod
    def loss_inputs(loss, role, outputs):
        """What `loss` takes of `outputs = (logits, features)`: the logits
        (float32), one map or a list of maps."""
        logits, features = outputs
        name = getattr(loss, f"{role}_layer_name", None)
        if name is None:
            return tf.cast(logits, tf.float32)
        return features[name] if isinstance(name, str) else [features[n] for n in name]

    def distillation(self, losses, weights, teacher, student, y, training, epoch=None):
        """`sum_i w_i * loss_i.compute_loss(...)`, float32 (each term already
        divided by the replicas in sync); `epoch` (1-based) if given."""
        total = tf.constant(0.0)
        for i, loss in enumerate(losses):
            value = loss.compute_loss(self.loss_inputs(loss, "teacher", teacher),
                                      self.loss_inputs(loss, "student", student),
                                      labels=y, training=training, epoch=epoch)
            total += weights[i] * tf.cast(value, tf.float32)
        return total

    def student_loss(self, y, logits, sample_weight):
        """`(compiled loss, student regularisers)`, float32, each divided by
        the replicas in sync (Keras' compiled loss is; regularisers are not
        in Keras 3.15, so they are here)."""
        loss = tf.cast(self._compile_loss(y, logits, sample_weight), tf.float32)
        regularisers = [tf.cast(tf.reduce_sum(r), tf.float32) for r in self.student.losses]
        return loss, replica_scale(tf.add_n(regularisers)) if regularisers else 0.0

    def update_metrics(self, x, y, sample_weight, logits, total, tracked):
        """Updates `loss` with `total` and each `(tracker, value)` of
        `tracked` (per-replica values divided by the replicas, or `None`),
        as per-example means; returns the logs of the compiled metrics."""
        batch = tf.shape(keras.tree.flatten(x)[0])[0]
        replicas = float(tf.distribute.get_strategy().num_replicas_in_sync)
        for tracker, value in [(self._loss_tracker, total), *tracked]:
            if tracker is not None and value is not None:
                tracker.update_state(tf.cast(value, tf.float32) * replicas,
                                     sample_weight=batch)
        return self.compute_metrics(x, y, logits, sample_weight)

    # ------------------------------------------------------ serialisation
    def get_config(self):
        config = {
            "teacher": keras.saving.serialize_keras_object(self.teacher),
            "student": keras.saving.serialize_keras_object(self.student),
            "student_loss_weight": self.student_loss_weight,
        }
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("teacher", "student"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
