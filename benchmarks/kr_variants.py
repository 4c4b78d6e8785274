"""KR training steps with one part left out or changed, for timing only.

`step_ratio.py --variants=...` times these beside the registered methods to
show where `KRDistiller.train_step`'s time goes (BUILD.md, "Where the KR
step's time goes"). They are not the method: most change what the step
computes. Each re-implements the step from `KRDistiller`'s parts with
switches:

* `second_forward`: how the student step's targets are made after the
  knowledge update: `"full"` (the library: both aggregator forwards run the
  identity mappings, the concatenation, the projection and BN), `"cached"`
  (the merged, concatenated teacher maps are built once and only the 1x1
  projection + BN run twice; same math) or `"none"` (reuse the knowledge of
  the first forward, before the update: other math, no second forward).
* `knowledge_step`: `False` leaves out Eq. 9 (no knowledge loss, gradient or
  aggregator update; one aggregator forward makes the targets).
* `nested`: `False` records the knowledge step on its own tape after the
  student's tape is closed, which is then re-entered for the student loss
  (same math, no nested tape).
* `prior`: `False` leaves out the prior term (no SRP, no second forward).

Plus constructor changes: `feature_normalization="none"` (no l2
normalisation) and one teacher map per group (`k1`: no concatenation, a
projection from one map).
"""

import keras
import tensorflow as tf
from keras import ops

from kr_keras.distillers.common import replica_scale
from kr_keras.distillers.kr_distiller import KRDistiller


def _merge(aggregator, maps):
    mapped = [layer(x) for layer, x in zip(aggregator.id_layers, maps)]
    return mapped[0] if len(mapped) == 1 else ops.concatenate(mapped, -1)


def _project(aggregator, merged, training):
    outputs = aggregator.projection(merged)
    if aggregator.batch_norm is not None:
        outputs = aggregator.batch_norm(outputs, training=training)
    return outputs


def variant(name, second_forward="full", knowledge_step=True, nested=True, prior=True):
    """A `KRDistiller` subclass whose `train_step` follows the switches."""

    class Variant(KRDistiller):
        def train_step(self, data):
            x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
            teacher_logits, teacher_features = self._teacher_forward(x)
            groups = [[teacher_features[i] for i in g] for g in self._groups]
            merged = None
            if second_forward == "cached":
                merged = [_merge(a, g) for a, g in zip(self.aggregators, groups)]

            def knowledge_forward():
                if merged is not None:
                    return [_project(a, m, True) for a, m in zip(self.aggregators, merged)]
                return self._knowledge(teacher_features, training=True)

            def knowledge_update(student_features):
                with tf.GradientTape() as knowledge_tape:
                    knowledge = knowledge_forward()
                    knowledge_loss = self._knowledge_loss(knowledge, student_features)
                    scaled = self.knowledge_optimizer.scale_loss(replica_scale(knowledge_loss))
                variables = self.knowledge_variables
                self.knowledge_optimizer.apply(
                    knowledge_tape.gradient(scaled, variables), variables)
                return knowledge, knowledge_loss

            with tf.GradientTape() as tape:
                student_logits, *student_features = self._student_tapped(x, training=True)
                knowledge_loss = tf.constant(0.0)
                knowledge = None
                if nested:
                    with tape.stop_recording():
                        if knowledge_step:
                            knowledge, knowledge_loss = knowledge_update(student_features)
            if not nested and knowledge_step:
                knowledge, knowledge_loss = knowledge_update(student_features)
            if prior:
                if second_forward == "none" and knowledge is not None:
                    targets = [tf.stop_gradient(k) for k in knowledge]
                else:
                    targets = [tf.stop_gradient(k) for k in knowledge_forward()]
            with tape:
                student_loss = self._compute_loss(
                    x=x, y=y, y_pred=student_logits, training=True)
                total = tf.cast(student_loss, tf.float32) * self.student_loss_weight
                prior_loss = tf.constant(0.0)
                if prior:
                    prior_loss = self._prior_loss(targets, student_features)
                    total += replica_scale(self._prior_weight() * prior_loss)
                posterior_loss = None
                if self.posterior:
                    posterior_loss = self._posterior_loss(teacher_logits, student_logits)
                    total += replica_scale(posterior_loss)
                scaled = self.optimizer.scale_loss(total)
            variables = self.student_variables
            gradients = [tf.zeros_like(v) if g is None else g
                         for g, v in zip(tape.gradient(scaled, variables), variables)]
            self.optimizer.apply(self._scale_threshold_gradients(gradients, variables),
                                 variables)
            return self._update_metrics(x, y, None, student_logits, total, student_loss,
                                        knowledge_loss, prior_loss, posterior_loss)

    Variant.__name__ = f"KRVariant_{name}"
    return Variant


class _K1(KRDistiller):
    """KR with one teacher map per group: the last block of each stage."""

    def __init__(self, teacher, student, **kwargs):
        from kr_keras.models.tap import default_tap_names

        t, s = default_tap_names(teacher), default_tap_names(student)
        k = len(t) // len(s)
        super().__init__(teacher, student, teacher_layers=t[k - 1::k], student_layers=s,
                         **kwargs)


# name -> (distiller class, constructor keyword arguments)
VARIANTS = {
    "same_step": (variant("same_step"), {}),
    "cached_merge": (variant("cached_merge", second_forward="cached"), {}),
    "no_second_forward": (variant("no_second_forward", second_forward="none"), {}),
    "no_nested_tape": (variant("no_nested_tape", nested=False), {}),
    "no_knowledge_step": (variant("no_knowledge_step", knowledge_step=False), {}),
    "no_prior": (variant("no_prior", knowledge_step=False, prior=False), {}),
    "no_l2": (KRDistiller, {"feature_normalization": "none"}),
    "no_srp": (KRDistiller, {"sparse": False}),
    "k1": (_K1, {}),
}
