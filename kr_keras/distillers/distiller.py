"""`Distiller`: a student trained on CE plus any list of distillation losses."""

import inspect
import warnings

import keras
import tensorflow as tf

from kr_keras.distillers.common import build_optimizer
from kr_keras.distillers.common import check_teacher_student
from kr_keras.distillers.common import copy_optimizer
from kr_keras.distillers.common import run_in_global_dtype
from kr_keras.distillers.common import unwrapped
from kr_keras.distillers.common import warn_second_mirrored_strategy
from kr_keras.losses.common import epochs_of_run
from kr_keras.losses.common import scale_for_replicas
from kr_keras.models.tap import inline_nested
from kr_keras.models.tap import tap


def layer_names(losses, role):
    """The distinct layer names the `losses` tap in the `role` model, in order."""
    names = (getattr(loss, f"{role}_layer_name", None) for loss in losses)
    return list(dict.fromkeys(n for name in names
                              for n in ([name] if isinstance(name, str) else name or [])))


def helper_variables(losses, adversarial):
    """Trainable variables of the loss-owned helpers trained on their loss's
    own `helper_loss` (`adversarial=True`) or on the student's objective."""
    layers = [l for l in losses if isinstance(l, keras.layers.Layer)]
    own = {id(v) for l in layers if hasattr(l, "helper_loss") for h in
           [getattr(l, n) for n in getattr(l, "helper_layers", ())] or [l]
           for v in h.trainable_variables}
    return [v for l in layers for v in l.trainable_variables if (id(v) in own) == adversarial]


def helper_optimizer(loss, student_optimizer, auxiliary_optimizer, used):
    """The optimizer of one loss's helpers (`Distiller.compile`); `used`
    collects those made from `auxiliary_optimizer` (itself first, then copies)."""
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


class _StageSchedule(keras.callbacks.Callback):
    """Sets each epoch's stage weights and epoch count, and retraces the
    steps where the stage changes what trains."""

    def on_epoch_begin(self, epoch, logs=None):
        model, (stage, frozen) = self.model, self.model.stage_at(epoch)
        for variable, value in ((model.stage_weights, model.weights_at_epoch(epoch)),
                                (model.epoch, epoch + 1.0)):
            if variable is not None:
                variable.assign(value)
        mode = ((stage or {}).get("train_student", True), frozen)
        if mode != model.stage_mode:
            model.stage_mode = mode
            model.make_train_function(force=True)
            model.test_function = None


@keras.saving.register_keras_serializable(package="kr_keras")
class Distiller(keras.Model):
    """`w_s * CE + sum_i w_i * L_i`, `L_i` any `DistillationLoss`es.

    `keras.distillation.Distiller`'s design with list taps, loss-owned helpers,
    stages and `epoch` for `compute_loss` (docs/methods.md, "Design"). Metrics
    (per-example means): `loss`, `student_loss`, `distillation_loss` (the
    weighted sum), `auxiliary_loss` (the helpers' own objectives).

    Args:
        teacher: Trained, built `keras.Model` returning logits; frozen. Functional
            (or Sequential) for losses that tap layers, else also subclassed.
        student: Built `keras.Model` returning logits (the same rule).
        distillation_losses: A `DistillationLoss` or a list of them (empty: the student alone).
        distillation_loss_weights: One weight per loss; default 1.0 each.
        student_loss_weight: Weight (>= 0) of the compiled loss; the
            student's regularisers are added outside it.
        stages: Optional list of stage dicts for the first epochs of `fit`,
            before the main weights (docs/methods_zoo.md, "Stages").
        name: Model name.

    Example:

    ```python
    distiller = kr_keras.distillers.Distiller(
        teacher, student, [kr_keras.losses.KD(4.0)],
        distillation_loss_weights=[0.9], student_loss_weight=0.1)
    distiller.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                      metrics=["accuracy"])
    distiller.fit(train_ds, epochs=1)
    ```
    """

    def __init__(self, teacher, student, distillation_losses=(),
                 distillation_loss_weights=None, student_loss_weight=1.0,
                 stages=None, name="distiller", **kwargs):
        check_teacher_student(teacher, student)
        if student_loss_weight < 0:
            raise ValueError("`student_loss_weight` must be >= 0. Received: "
                             f"student_loss_weight={student_loss_weight}")
        losses = (list(distillation_losses) if isinstance(distillation_losses, (list, tuple))
                  else [distillation_losses])
        for loss in losses:
            if not isinstance(loss, keras.distillation.DistillationLoss):
                raise ValueError("`distillation_losses` takes keras.distillation."
                                 f"DistillationLoss instances. Received: {loss!r}")
        weights = [1.0] * len(losses) if distillation_loss_weights is None else [
            float(w) for w in distillation_loss_weights]
        stages = [dict(s) for s in stages or []]
        for stage in [{"distillation_loss_weights": weights}, *stages]:
            if len(stage["distillation_loss_weights"]) != len(losses):
                raise ValueError("Give one weight per distillation loss. Received: "
                                 f"{len(losses)} losses, weights {stage}")
        super().__init__(name=name, **kwargs)
        self.teacher, self.student = teacher, student
        self.teacher.trainable = False
        run_in_global_dtype(teacher)
        self.student_loss_weight = float(student_loss_weight)
        self.helper_optimizers = []
        self.stages, self.run_epochs = stages, None  # (fit's `epochs`, once known)
        # Nested backbones' layers are tapped in one flat graph of the same layers.
        flat_teacher, flat_student = inline_nested(teacher), inline_nested(student)
        for loss in losses:
            loss.validate_model_compatibility(flat_teacher, flat_student)
        self.distillation_losses = losses
        self.distillation_loss_weights = weights
        self._teacher_names = layer_names(losses, "teacher")
        self._student_names = layer_names(losses, "student")
        # A subclassed model (logit losses only: `tap` refuses it) is called as it is.
        self._teacher_tapped, self._student_tapped = (
            tap(flat, names) if names or getattr(flat, "inputs", None) is not None else flat
            for flat, names in ((flat_teacher, self._teacher_names),
                                (flat_student, self._student_names)))
        self.student_loss_tracker = keras.metrics.Mean(name="student_loss")
        self.distillation_loss_tracker = (
            keras.metrics.Mean(name="distillation_loss") if losses else None)
        self.auxiliary_loss_tracker = (
            keras.metrics.Mean(name="auxiliary_loss") if self.helper_losses() else None)
        self.stage_weights = self.add_weight(
            shape=(len(losses) + 1,), trainable=False, name="stage_weights",
            initializer=keras.initializers.Constant(self.weights_at_epoch(0))) if stages else None
        self.epoch = (self.add_weight(shape=(), trainable=False, name="epoch", initializer="ones")
                      if any("epoch" in inspect.signature(l.compute_loss).parameters
                             for l in losses) else None)
        self.stage_mode = (True, False)  # (the student trains, own-objective helpers frozen)
        self.built = True

    def stage_at(self, epoch):
        """`(stage dict of epoch or None, whether an earlier stage froze the helpers)`."""
        frozen = False
        for stage in self.stages:
            n = epochs_of_run(stage["epochs"], self.run_epochs)
            if epoch < n:
                return stage, frozen
            frozen, epoch = frozen or stage.get("freeze_after", False), epoch - n
        return None, frozen

    def weights_at_epoch(self, epoch):
        """`[student_loss_weight, *distillation_loss_weights]` of `epoch`."""
        stage = self.stage_at(epoch)[0]
        if stage is None:
            return [self.student_loss_weight, *self.distillation_loss_weights]
        return [stage["student_loss_weight"], *stage["distillation_loss_weights"]]

    def helper_losses(self):
        """The losses whose helpers train on their own `helper_loss`, one optimizer each."""
        return [l for l in self.distillation_losses
                if hasattr(l, "helper_loss") and helper_variables([l], adversarial=True)]

    def compile(self, optimizer=None, loss=None, metrics=None,
                auxiliary_optimizer=None, **kwargs):
        """Configures the optimizers, the student loss and the metrics.

        Args:
            optimizer: Student optimizer, as `keras.Model.compile` takes it
                (instance, identifier or config dict); default SGD(0.01, momentum 0.9).
            loss: Student loss on `(y, logits)`; default sparse categorical
                cross-entropy from logits.
            metrics: Metrics of the student logits, e.g. `["accuracy"]`.
            auxiliary_optimizer: Optimizer of the helpers trained on their loss's
                own `helper_loss` (KR's aggregators, FT's paraphraser), taken like
                `optimizer`, one instance per loss; helpers trained on the student's
                objective step with the student optimizer. Default per
                loss: its `default_helper_optimizer`, else a copy of the
                student optimizer's config (docs/methods.md, "Optimizers").
                Ignored, with a warning, when no loss uses it.
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
                            helper_variables([l], adversarial=True), f"helper_optimizer_{i}")
            for i, l in enumerate(self.helper_losses())]
        if auxiliary_optimizer is not None and not used:
            warnings.warn(f"{self.name} has no helpers trained by auxiliary_optimizer; it "
                          f"ignores auxiliary_optimizer={auxiliary_optimizer!r}.", stacklevel=2)
        optimizer = build_optimizer(optimizer, self.student_variables(), "student_optimizer")
        if self.helper_optimizers:
            warn_second_mirrored_strategy(self.name)
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)
        # Instances and config dicts are recorded as built (a dict would not deserialize
        # back); `used[0]` is the one made from auxiliary_optimizer, whichever loss took it.
        built = (keras.optimizers.Optimizer, dict)
        if isinstance(config["optimizer"], built):
            config["optimizer"] = unwrapped(optimizer)
        if isinstance(config["auxiliary_optimizer"], built):
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
        """Compiles as `get_compile_config()` recorded (every optimizer)."""
        self.compile(**{k: keras.saving.deserialize_keras_object(v)
                        for k, v in config.items()})

    def student_variables(self):
        """The variables the student optimizer trains: the student's and the helpers
        trained on its objective (RepDistiller's `trainable_list`)."""
        return [*self.student.trainable_variables,
                *helper_variables(self.distillation_losses, adversarial=False)]

    def call(self, inputs, training=None):
        return self.student(inputs, training=training)

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
        """`sum_i w_i * loss_i.compute_loss(...)` in float32; `epoch` is 1-based."""
        total = tf.constant(0.0)
        for i, loss in enumerate(losses):
            value = loss.compute_loss(self.loss_inputs(loss, "teacher", teacher),
                                      self.loss_inputs(loss, "student", student),
                                      labels=y, training=training, epoch=epoch)
            total += weights[i] * tf.cast(value, tf.float32)
        return total

    def student_loss(self, y, logits, sample_weight):
        """`(compiled loss, student regularisers)` in float32, each divided by the
        replicas in sync (Keras 3.15 divides the compiled loss, not regularisers)."""
        loss = tf.cast(self._compile_loss(y, logits, sample_weight), tf.float32)
        regularisers = [tf.cast(tf.reduce_sum(r), tf.float32) for r in self.student.losses]
        return loss, scale_for_replicas(tf.add_n(regularisers)) if regularisers else 0.0

    def update_metrics(self, x, y, sample_weight, logits, total, tracked):
        """Updates `loss` (`total`) and each `(tracker, value or None)` of `tracked`
        as per-example means of per-replica values; returns the compiled metrics' logs."""
        batch = tf.shape(keras.tree.flatten(x)[0])[0]
        replicas = float(tf.distribute.get_strategy().num_replicas_in_sync)
        for tracker, value in [(self._loss_tracker, total), *tracked]:
            if tracker is not None and value is not None:
                tracker.update_state(tf.cast(value, tf.float32) * replicas,
                                     sample_weight=batch)
        return self.compute_metrics(x, y, logits, sample_weight)

    def fit(self, *args, **kwargs):
        epochs = kwargs.get("epochs", args[3] if len(args) > 3 else 1)
        self.run_epochs = epochs  # stage epochs and losses' `set_run_epochs` may be fractions
        for loss in self.distillation_losses:
            getattr(loss, "set_run_epochs", lambda epochs: None)(epochs)
        staged = sum(epochs_of_run(stage["epochs"], epochs) for stage in self.stages)
        if staged and epochs <= staged:
            warnings.warn(
                f"{self.name}'s stages take the first {staged} epoch(s) (e.g. FT's "
                "paraphraser), so fit(epochs=...) ends before its main objective "
                f"applies; pass epochs > {staged}. Received: epochs={epochs}", stacklevel=2)
        if self.stages or self.epoch is not None:
            kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), _StageSchedule()]
        return super().fit(*args, **kwargs)

    def _helper_objective(self, loss, optimizer, teacher, student, y, training):
        """`(value, gradients, variables)` of `loss.helper_loss` on the stop-gradient
        student outputs; no gradients unless `training`."""
        student = tf.nest.map_structure(tf.stop_gradient, student)
        variables = helper_variables([loss], adversarial=True)
        with tf.GradientTape() as tape:
            value = tf.cast(loss.helper_loss(
                self.loss_inputs(loss, "teacher", teacher),
                self.loss_inputs(loss, "student", student),
                labels=y, training=training), tf.float32)
            scaled = optimizer.scale_loss(value) if training else value
        if not training:
            return value, [], []
        return value, tape.gradient(scaled, variables), variables

    def _step(self, data, training):
        """Each helper loss's own objective first, then the student's objective
        against the updated helpers (docs/methods.md, "Helpers belong to their loss")."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        losses, (train_student, frozen) = self.distillation_losses, self.stage_mode
        teacher = self.teacher_forward(x) if losses else None
        # Terms whose student gradients a loss recodes itself (SRP on the weights).
        recoding = [i for i, l in enumerate(losses) if training and train_student
                    and getattr(l, "recodes_student_gradients", False)]
        with tf.GradientTape(persistent=bool(recoding)) as tape:
            student = self.student_forward(x, training=training and train_student)
            auxiliary = []
            with tape.stop_recording():
                for loss, optimizer in zip(self.helper_losses(), self.helper_optimizers):
                    value, gradients, variables = self._helper_objective(
                        loss, optimizer, teacher, student, y, training and not frozen)
                    auxiliary.append(value)
                    if gradients:
                        optimizer.apply(gradients, variables)
            weights = ([self.stage_weights[i] for i in range(len(losses) + 1)]
                       if self.stages else [self.student_loss_weight, *self.distillation_loss_weights])
            student_loss, regularisers = self.student_loss(y, student[0], sample_weight)

            def terms(indices):
                return self.distillation([losses[i] for i in indices],
                                         [weights[i + 1] for i in indices], teacher, student, y,
                                         training and train_student, self.epoch)

            distillation = terms([i for i in range(len(losses)) if i not in recoding])
            recoded = [terms([i]) for i in recoding]
            # The student's objective without the recoded terms: its gradient is taken as is.
            dense = weights[0] * student_loss + distillation + regularisers
            total = dense + sum(recoded)
            distillation += sum(recoded)
            scaled = self.optimizer.scale_loss(dense)
            recoded = [self.optimizer.scale_loss(term) for term in recoded]
        if training and train_student:
            variables = self.student_variables()
            gradients = tape.gradient(scaled, variables)
            for i, term in zip(recoding, recoded):  # each recoded term's gradients, recoded
                new = losses[i].recode_student_gradients(tape.gradient(term, variables), variables)
                gradients = [n if g is None else g if n is None else g + n
                             for g, n in zip(gradients, new)]
            self.optimizer.apply(gradients, variables)
        return self.update_metrics(x, y, sample_weight, student[0], total, [
            (self.student_loss_tracker, student_loss),
            (self.distillation_loss_tracker, distillation),
            (self.auxiliary_loss_tracker, tf.add_n(auxiliary) if auxiliary else None)])

    def train_step(self, data):
        return self._step(data, training=True)

    def test_step(self, data):
        return self._step(data, training=False)

    def get_config(self):
        return {
            **super().get_config(),
            "teacher": keras.saving.serialize_keras_object(self.teacher),
            "student": keras.saving.serialize_keras_object(self.student),
            "student_loss_weight": self.student_loss_weight,
            "distillation_losses": [keras.saving.serialize_keras_object(l)
                                    for l in self.distillation_losses],
            "distillation_loss_weights": list(self.distillation_loss_weights),
            "stages": [{**s, "distillation_loss_weights": list(s["distillation_loss_weights"])}
                       for s in self.stages],
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("teacher", "student", "distillation_losses"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
