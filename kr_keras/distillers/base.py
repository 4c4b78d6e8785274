"""`BaseDistiller`: what every baseline distiller shares.

Teacher freezing and tapping by layer name, the compiled student loss, an
optional auxiliary optimizer for trainable helpers (built in `compile`,
NOTES.md), replica scaling, `loss`/`student_loss`/`distillation_loss`
trackers (plus `auxiliary_loss` where helpers train) and the config of the
two models. A subclass implements `distillation_loss`, and, with helpers,
`auxiliary_variables` and `auxiliary_loss`.
"""

import keras
import tensorflow as tf

from kr_keras.distillers.common import check_teacher_student
from kr_keras.distillers.common import build_optimizer
from kr_keras.distillers.common import replica_scale
from kr_keras.models.tap import default_tap_names
from kr_keras.models.tap import tap


def stage_end_names(model):
    """Names of the block outputs that end a stage (the next block's output
    has another shape, or it is the last), in graph order: RepDistiller's
    `feat[1:-1]` of a ResNet."""
    names = default_tap_names(model)
    shapes = [tuple(model.get_layer(n).output.shape[1:]) for n in names]
    return [n for i, n in enumerate(names)
            if i == len(names) - 1 or shapes[i + 1] != shapes[i]]


class BaseDistiller(keras.Model):
    """Base of the baseline distillers (not registered; subclass it).

    Per batch: one frozen teacher forward (`training=False`, tapped), one
    student forward (tapped), then one student update on
    `student_loss_weight * CE + distillation_loss_weight * distillation_loss`
    and, where `auxiliary_loss` returns a value, one update of the helpers
    on it with the auxiliary optimizer. Losses carry Keras' 1/replicas
    factor, so `MirroredStrategy` sums gradients to the global mean.

    Args:
        teacher: Trained, built functional `keras.Model` returning logits.
        student: Built functional `keras.Model` returning logits.
        teacher_layers: Names of the teacher layers to tap, in order.
        student_layers: Names of the student layers to tap, in order.
        student_loss_weight: Weight of the compiled (cross-entropy) loss.
        distillation_loss_weight: Weight of `distillation_loss`.
        name: Model name.
    """

    def __init__(self, teacher, student, teacher_layers=(), student_layers=(),
                 student_loss_weight=1.0, distillation_loss_weight=1.0,
                 name="distiller", **kwargs):
        check_teacher_student(teacher, student)
        if student_loss_weight < 0 or distillation_loss_weight < 0:
            raise ValueError(
                "Loss weights must be >= 0. Received: "
                f"student_loss_weight={student_loss_weight}, "
                f"distillation_loss_weight={distillation_loss_weight}"
            )
        super().__init__(name=name, **kwargs)
        self.teacher = teacher
        self.student = student
        self.teacher.trainable = False
        self.teacher_layers = list(teacher_layers)
        self.student_layers = list(student_layers)
        self.student_loss_weight = float(student_loss_weight)
        self.distillation_loss_weight = float(distillation_loss_weight)
        self._teacher_tapped = tap(teacher, self.teacher_layers)
        self._student_tapped = tap(student, self.student_layers)
        self.student_loss_tracker = keras.metrics.Mean(name="student_loss")
        self.distillation_loss_tracker = keras.metrics.Mean(name="distillation_loss")
        # Subclasses with helpers set a Mean(name="auxiliary_loss") here.
        self.auxiliary_loss_tracker = None
        self.auxiliary_optimizer = None
        # Every part is built from the models' symbolic shapes.
        self.built = True

    # ------------------------------------------------------ subclass hooks
    def distillation_loss(self, teacher_logits, teacher_features,
                          student_logits, student_features, training):
        """The unweighted distillation term, a float32 scalar."""
        raise NotImplementedError

    @property
    def auxiliary_variables(self):
        """Trainable helper variables (FitNet regressor, discriminator)."""
        return []

    def auxiliary_loss(self, distillation, teacher_logits, teacher_features,
                       student_logits, student_features, training):
        """Loss of the helpers (given this step's unweighted
        `distillation` value), trained by `auxiliary_optimizer` after the
        student step; `None` when a subclass updates them itself."""
        return None

    def loss_weights(self):
        """`(student_loss_weight, distillation_loss_weight)` of this step."""
        return self.student_loss_weight, self.distillation_loss_weight

    # ------------------------------------------------------------ compile
    def compile(self, optimizer=None, loss=None, metrics=None,
                auxiliary_optimizer=None, **kwargs):
        """Configures the student optimizer, the helpers' optimizer, the
        student loss and the metrics.

        Args:
            optimizer: Student optimizer; default SGD(0.01, momentum 0.9)
                (the paper's student rate, as `KRDistiller`).
            loss: Student loss on `(y, logits)`; default sparse categorical
                cross-entropy from logits.
            metrics: Metrics of the student logits, e.g. `["accuracy"]`.
            auxiliary_optimizer: Optimizer of the helpers; default: a fresh
                optimizer with the student optimizer's config (RepDistiller
                trains helpers with the student's settings). Ignored by
                distillers without helpers.
            **kwargs: Passed to `keras.Model.compile`.
        """
        if optimizer is None:
            optimizer = keras.optimizers.SGD(0.01, momentum=0.9)
        optimizer = keras.optimizers.get(optimizer)
        if loss is None:
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        helpers = self.auxiliary_variables
        if helpers:
            if auxiliary_optimizer is None:
                inner = getattr(optimizer, "inner_optimizer", optimizer)
                auxiliary_optimizer = inner.__class__.from_config(inner.get_config())
            if auxiliary_optimizer is optimizer:
                raise ValueError(
                    "Pass distinct optimizer instances for the student and "
                    "the helpers (`auxiliary_optimizer`)."
                )
            self.auxiliary_optimizer = build_optimizer(
                auxiliary_optimizer, helpers, "auxiliary_optimizer"
            )
        optimizer = build_optimizer(
            optimizer, self.student.trainable_variables, "student_optimizer"
        )
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def call(self, inputs, training=None):
        return self.student(inputs, training=training)

    # -------------------------------------------------------------- steps
    @staticmethod
    def _forward(tapped, x, training):
        outputs = tapped(x, training=training)
        if not isinstance(outputs, (list, tuple)):  # no taps: logits alone
            return outputs, []
        return outputs[0], list(outputs[1:])

    def _teacher_forward(self, x):
        logits, features = self._forward(self._teacher_tapped, x, training=False)
        return tf.stop_gradient(logits), [tf.stop_gradient(f) for f in features]

    def _step_losses(self, x, y, sample_weight, training):
        teacher_logits, teacher_features = self._teacher_forward(x)
        student_logits, student_features = self._forward(
            self._student_tapped, x, training=training
        )
        args = (teacher_logits, teacher_features, student_logits,
                student_features, training)
        student_loss = tf.cast(self._compute_loss(
            x=x, y=y, y_pred=student_logits, sample_weight=sample_weight,
            training=training,
        ), tf.float32)
        distillation = tf.cast(self.distillation_loss(*args), tf.float32)
        w_student, w_distill = self.loss_weights()
        total = student_loss * w_student + replica_scale(w_distill * distillation)
        auxiliary = None
        if self.auxiliary_variables:
            auxiliary = self.auxiliary_loss(distillation, *args)
        return student_logits, total, student_loss, distillation, auxiliary

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape(persistent=True) as tape:
            logits, total, student_loss, distillation, auxiliary = self._step_losses(
                x, y, sample_weight, training=True
            )
            scaled = self.optimizer.scale_loss(total)
            if auxiliary is not None:
                aux_scaled = self.auxiliary_optimizer.scale_loss(
                    replica_scale(tf.cast(auxiliary, tf.float32))
                )
        variables = self.student.trainable_variables
        self.optimizer.apply(tape.gradient(scaled, variables), variables)
        if auxiliary is not None:
            helpers = self.auxiliary_variables
            self.auxiliary_optimizer.apply(tape.gradient(aux_scaled, helpers), helpers)
        del tape
        return self._update_metrics(x, y, sample_weight, logits, total,
                                    student_loss, distillation, auxiliary)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        logits, total, student_loss, distillation, auxiliary = self._step_losses(
            x, y, sample_weight, training=False
        )
        return self._update_metrics(x, y, sample_weight, logits, total,
                                    student_loss, distillation, auxiliary)

    def _update_metrics(self, x, y, sample_weight, logits, total,
                        student_loss, distillation, auxiliary):
        batch = tf.shape(x)[0]
        # `total` and `student_loss` carry the 1/replicas factor of Keras'
        # compiled losses; report per-example means.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        self._loss_tracker.update_state(total * replicas, sample_weight=batch)
        self.student_loss_tracker.update_state(
            student_loss * replicas, sample_weight=batch
        )
        self.distillation_loss_tracker.update_state(distillation, sample_weight=batch)
        if auxiliary is not None and self.auxiliary_loss_tracker is not None:
            self.auxiliary_loss_tracker.update_state(
                tf.cast(auxiliary, tf.float32), sample_weight=batch
            )
        return self.compute_metrics(x, y, logits, sample_weight)

    # ------------------------------------------------------ serialisation
    def get_config(self):
        config = {
            "teacher": keras.saving.serialize_keras_object(self.teacher),
            "student": keras.saving.serialize_keras_object(self.student),
            "teacher_layers": self.teacher_layers,
            "student_layers": self.student_layers,
            "student_loss_weight": self.student_loss_weight,
            "distillation_loss_weight": self.distillation_loss_weight,
        }
        base_config = super().get_config()
        return {**base_config, **config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["teacher"] = keras.saving.deserialize_keras_object(config["teacher"])
        config["student"] = keras.saving.deserialize_keras_object(config["student"])
        return cls(**config)
