"""`Distiller`: a student trained on CE plus any list of distillation losses."""

import inspect
import warnings

import keras
import tensorflow as tf

from kr_keras.distillers.base import BaseDistiller
from kr_keras.distillers.base import helper_variables
from kr_keras.distillers.base import layer_names
from kr_keras.losses.common import epochs_of_run


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
class Distiller(BaseDistiller):
    """`w_s * CE + sum_i w_i * L_i`, `L_i` any `DistillationLoss`es.

    `keras.distillation.Distiller`'s design (frozen teacher, pluggable
    losses tapping layers by name, `distiller.student`), with what
    kr_keras' methods need on top:

    * a loss's `teacher_layer_name` / `student_layer_name` may be `None`
      (the logits), a layer name or a list of names (it then gets a list of
      maps); `compute_loss` also receives `labels=y` and `training=`;
    * a loss that is a `keras.layers.Layer` may own trainable helpers,
      built in `validate_model_compatibility(teacher, student)`, each loss
      with its own optimizer (`compile`). They train on the student's
      objective (joint, as RepDistiller), or, for a loss with
      `helper_loss(...)` (KR's aggregators, Eq. 9; KDGAN's discriminator),
      on that, in a step before the student's, whose objective then sees
      the updated helpers (KR's alternation);
    * `student_loss_weight` is any weight >= 0, and the student's
      regularisers are added outside it;
    * `stages`: weights for the first epochs of `fit` (e.g. FSP's stage of
      FSP alone), each `{"epochs": n, "student_loss_weight": w_s,
      "distillation_loss_weights": [...]}`, then the main weights; with
      `"train_student": False` only helpers with their own `helper_loss`
      train (FT's paraphraser), `"freeze_after": True` freezes them after;
    * a `compute_loss` taking `epoch` gets fit's 1-based epoch (DKD); a
      stage's `"epochs"` may be a fraction in (0, 1) of fit's `epochs`, and
      `fit` first calls a loss's `set_run_epochs(epochs)` if it has one.

    Metrics: `loss`, `student_loss` (compiled loss), `distillation_loss`
    (the weighted sum), `auxiliary_loss` (the helpers' own objectives).

    Args:
        teacher: Trained functional `keras.Model` returning logits; frozen.
        student: Functional `keras.Model` returning logits.
        distillation_losses: A `keras.distillation.DistillationLoss` or a
            list of them (may be empty: the student alone).
        distillation_loss_weights: One weight per loss; default 1.0 each.
        student_loss_weight: Weight of the compiled loss.
        stages: Optional list of stage dicts, run in order before the main
            weights apply.
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
        super().__init__(teacher, student, student_loss_weight, name=name, **kwargs)
        self.stages, self.run_epochs = stages, None  # (fit's `epochs`, once known)
        for loss in losses:
            loss.validate_model_compatibility(teacher, student)
        self.distillation_losses = losses
        self.distillation_loss_weights = weights
        self.set_taps(layer_names(losses, "teacher"), layer_names(losses, "student"))
        self.distillation_loss_tracker = (
            keras.metrics.Mean(name="distillation_loss") if losses else None)
        self.auxiliary_loss_tracker = (
            keras.metrics.Mean(name="auxiliary_loss")
            if helper_variables(losses, adversarial=True) else None)
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
        return [l for l in self.distillation_losses
                if isinstance(l, keras.layers.Layer) and l.trainable_variables]

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
        """`(value, gradients, variables)` of `loss.helper_loss` on the
        stop-gradient student outputs (`None, [], []` for a loss without
        one; no gradients unless `training`)."""
        if not hasattr(loss, "helper_loss"):
            return None, [], []
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
        """One step: each helper loss's own objective first (KR's knowledge
        step, KDGAN's discriminator), then the student's objective against
        the updated helpers; helpers trained on the student's objective
        (FitNet's regressor) step with it, in the same `apply` as their
        own objective's gradients where a loss has both (FT)."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        losses, (train_student, frozen) = self.distillation_losses, self.stage_mode
        groups = list(zip(self.helper_losses(), self.helper_optimizers))
        teacher = self.teacher_forward(x) if losses else None
        joint = {id(l): helper_variables([l], adversarial=False) if training and train_student
                 else [] for l, _ in groups}
        # Terms whose student gradients a loss recodes itself (SRP on the weights).
        recoding = [i for i, l in enumerate(losses) if training and train_student
                    and getattr(l, "recodes_student_gradients", False)]
        with tf.GradientTape(persistent=any(joint.values()) or bool(recoding)) as tape:
            student = self.student_forward(x, training=training and train_student)
            auxiliary, pending = [], {}
            with tape.stop_recording():
                for loss, optimizer in groups:
                    value, gradients, variables = self._helper_objective(
                        loss, optimizer, teacher, student, y, training and not frozen)
                    if value is not None:
                        auxiliary.append(value)
                    if gradients and not joint[id(loss)]:
                        optimizer.apply(gradients, variables)
                    elif gradients:
                        pending[id(loss)] = (gradients, variables)
            weights = ([self.stage_weights[i] for i in range(len(losses) + 1)]
                       if self.stages else [self.student_loss_weight, *self.distillation_loss_weights])
            student_loss, regularisers = self.student_loss(y, student[0], sample_weight)
            distillation, *recoded = (self.distillation(
                [losses[i] for i in part], [weights[i + 1] for i in part], teacher, student, y,
                training and train_student, self.epoch)
                for part in ([i for i in range(len(losses)) if i not in recoding],
                             *([i] for i in recoding)))
            distillation += sum(recoded)
            total = weights[0] * student_loss + distillation + regularisers
            scaled = self.optimizer.scale_loss(total)
            recoded = [self.optimizer.scale_loss(term) for term in recoded]
            joint_scaled = {id(l): o.scale_loss(total) for l, o in groups if joint[id(l)]}
        if training and train_student:
            variables = self.student_variables()
            gradients = tape.gradient(scaled, variables)
            for i, term in zip(recoding, recoded):  # its own gradients, swapped for their recoding
                part = tape.gradient(term, variables)
                new = losses[i].recode_student_gradients(part, variables)
                gradients = [g if p is None else g - p + n
                             for g, p, n in zip(gradients, part, new)]
            self.optimizer.apply(gradients, variables)
        for loss, optimizer in groups:
            gradients, variables = pending.get(id(loss), ([], []))
            if joint[id(loss)]:
                gradients = [*gradients, *tape.gradient(joint_scaled[id(loss)], joint[id(loss)])]
                variables = [*variables, *joint[id(loss)]]
            if gradients:  # joint gradients, and this loss's own-objective ones kept for them
                optimizer.apply(gradients, variables)
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
            "distillation_losses": [keras.saving.serialize_keras_object(l)
                                    for l in self.distillation_losses],
            "distillation_loss_weights": list(self.distillation_loss_weights),
            "stages": [{**s, "distillation_loss_weights": list(s["distillation_loss_weights"])}
                       for s in self.stages],
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["distillation_losses"] = [keras.saving.deserialize_keras_object(l)
                                         for l in config["distillation_losses"]]
        return super().from_config(config)
