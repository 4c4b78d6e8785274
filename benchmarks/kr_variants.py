"""KR training steps with one part left out or changed, for timing only.

`step_ratio.py --variants=...` times these beside the registered methods to
show where `KRDistiller.train_step`'s time goes (BUILD.md, "Where the KR
step's time goes"). They are not the method: most change what the step
computes. Each re-implements the step from `KRDistiller`'s parts with
switches:

* `second_forward`: how the student step's targets are made after the
  knowledge update: `"cached"` (the library: the teacher maps are mapped
  and concatenated once, `merge`, and only the 1x1 projection + BN run
  twice, `project`), `"uncached"` (both forwards map and concatenate the
  k teacher maps again; same math) or `"none"` (reuse the knowledge of the
  first forward, before the update: other math, no second forward).
* `knowledge_step`: `False` leaves out Eq. 9 (no knowledge loss, gradient or
  aggregator update; one aggregator forward makes the targets).
* `nested`: `False` records the knowledge step on its own tape after the
  student's tape is closed, which is then re-entered for the student loss
  (same math, no nested tape).
* `prior`: `False` leaves out the prior term (no SRP, no second forward).

`xla_elementwise` compiles the elementwise work around the projections
with XLA (same updates); `srp_before_cut` is the prior term before SRP shared its mask (timed
side by side with the library's); `before_cuts` is the library's step before the cuts (kept to time the two
side by side); `concat_projection` the step before the aggregators stopped
concatenating the teacher maps. Plus constructor changes: `feature_normalization="none"` (no l2
normalisation), `sparse=False` (no SRP) and one teacher map per group
(`k1`: no concatenation, a projection from one map).
"""

import keras
import tensorflow as tf

from kr_keras.distillers.common import replica_scale
from kr_keras.distillers.kr_distiller import KRDistiller
from kr_keras.losses.kd import KD


def variant(name, second_forward="cached", knowledge_step=True, nested=True, prior=True):
    """A `KRDistiller` subclass whose `train_step` follows the switches."""

    class Variant(KRDistiller):
        def train_step(self, data):
            x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
            teacher_logits, teacher_features = self._teacher_forward(x)
            merged = self._merged(teacher_features)

            def knowledge_forward(update_statistics):
                m = merged if second_forward != "uncached" else self._merged(teacher_features)
                return self._knowledge(m, True, update_statistics)

            def knowledge_update(student_features):
                with tf.GradientTape() as knowledge_tape:
                    knowledge = knowledge_forward(True)
                    knowledge_loss = self._knowledge_loss(knowledge, student_features)
                    scaled = self.knowledge_optimizer.scale_loss(replica_scale(knowledge_loss))
                variables = self.knowledge_variables
                self.knowledge_optimizer.apply(
                    knowledge_tape.gradient(scaled, variables), variables)
                return knowledge, knowledge_loss

            knowledge, knowledge_loss = None, tf.constant(0.0)
            with tf.GradientTape() as tape:
                student_logits, *student_features = self._student_tapped(x, training=True)
                if nested and knowledge_step:
                    with tape.stop_recording():
                        knowledge, knowledge_loss = knowledge_update(student_features)
            if not nested and knowledge_step:
                knowledge, knowledge_loss = knowledge_update(student_features)
            if prior:
                if second_forward == "none" and knowledge is not None:
                    targets = [tf.stop_gradient(k) for k in knowledge]
                else:
                    targets = [tf.stop_gradient(k)
                               for k in knowledge_forward(knowledge is None)]
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
                    posterior_loss = self._posterior_loss(teacher_logits, student_logits, y, True)
                    total += posterior_loss  # already divided by the replicas
                scaled = self.optimizer.scale_loss(total)
            variables = self.student_variables()
            self.optimizer.apply(tape.gradient(scaled, variables), variables)
            return self._update_metrics(x, y, None, student_logits, total, student_loss,
                                        knowledge_loss, prior_loss, posterior_loss, None)

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


class _BeforeCuts(variant("before_cuts")):
    """The library's step as of the "KR core:" commit, before the cuts of
    BUILD.md ("Where the KR step's time goes"): every loss measures
    (l2-normalises) its maps itself, the knowledge weights form their own
    residual."""

    def _knowledge_loss(self, knowledge, student_features, measured=False):
        total = 0.0
        weights = self.knowledge_weights(knowledge, student_features)
        for w_j, k_j, s_j in zip(weights, knowledge, student_features):
            k_j = self._to_measure(k_j)
            s_j = tf.stop_gradient(self._to_measure(s_j))
            total += w_j * self._distance(k_j, s_j)
        return total

    def knowledge_weights(self, knowledge, student_features):
        weights = []
        for k_j, s_j in zip(knowledge, student_features):
            k_j = tf.stop_gradient(self._to_measure(k_j))
            s_j = tf.stop_gradient(self._to_measure(s_j))
            rms = tf.sqrt(tf.reduce_mean(tf.square(s_j)) + 1e-12)
            sigma_j = tf.math.reduce_std(k_j - s_j) / rms
            weights.append(1.0 + self.gamma * sigma_j)
        return weights


class _ConcatProjection(KRDistiller):
    """The library's step before the aggregators stopped concatenating: each
    group's mapped teacher maps are concatenated on channels once per batch
    and projected by the 1x1 `Conv2D` (the same linear map as the library's
    sum of one matrix product per map)."""

    def _merged(self, teacher_features):
        return [keras.ops.concatenate(maps, -1) if len(maps) > 1 else maps[0]
                for maps in super()._merged(teacher_features)]

    def _knowledge(self, merged, training, update_statistics=True):
        return [a.normalize(a.projection(m), training, update_statistics)
                for a, m in zip(self.aggregators, merged)]


class _SRPBeforeCut(KRDistiller):
    """The prior term as before SRP shared its mask: the layer took |r| for
    tau's first value (every step), the inactive fraction and the mask
    apart, `sparse_recode` recoded the student map (its own mask and
    fraction), and the distance formed the residual again."""

    def _prior_loss(self, knowledge, student_features, recode=True, measured=False):
        from kr_keras.layers.sparse_recoding import _replica_mean
        from kr_keras.ops import inactive_fraction, sparse_recode, track_threshold

        total = 0.0
        for j, (k_j, s_j) in enumerate(zip(knowledge, student_features)):
            k_j = tf.stop_gradient(self._to_measure(k_j))
            s_j = s_j if measured else self._to_measure(s_j)
            if self.sparse and recode:
                rec = self.recoders[j]
                residual = tf.stop_gradient(s_j - k_j)
                first = tf.maximum(_replica_mean(tf.reduce_mean(tf.abs(residual))), 1e-12)
                tau = tf.where(tf.convert_to_tensor(rec.initialized) > 0.0,
                               tf.convert_to_tensor(rec.tau), first)
                rec.initialized.assign(1.0)
                fraction = _replica_mean(inactive_fraction(residual, tau))
                rec.inactive_fraction.assign(fraction)
                rec.tau.assign(track_threshold(tau, fraction, rec.target_inactive,
                                               rec.threshold_rate))
                s_j = sparse_recode(s_j, residual, tau, rec.boost, rec.floor,
                                    rec.target_inactive)
            total += self._distance(s_j, k_j)
        return total


class _XLAElementwise(KRDistiller):
    """Prototype: the projections' GEMMs in TensorFlow, everything
    elementwise around them (BN, l2, Eq. 9's loss and their gradients) in
    XLA-compiled inner functions."""

    def _fns(self):
        if getattr(self, "_xla_fns", None) is None:
            bn_vars = [v for a in self.aggregators for v in (a.batch_norm.gamma,
                                                               a.batch_norm.beta)]

            def knowledge(projected, measured):
                with tf.GradientTape() as tape:
                    tape.watch(projected)
                    k = [a.normalize(p, True) for a, p in zip(self.aggregators, projected)]
                    loss = self._knowledge_loss(k, measured, measured=True)
                    scaled = self.knowledge_optimizer.scale_loss(replica_scale(loss))
                grads = tape.gradient(scaled, list(projected) + bn_vars)
                return loss, grads[:len(projected)], grads[len(projected):]

            def refresh(projected):
                return [self._to_measure(a.normalize(p, True, False))
                        for a, p in zip(self.aggregators, projected)]

            self._xla_fns = (tf.function(knowledge, jit_compile=True),
                             tf.function(refresh, jit_compile=True), bn_vars)
        return self._xla_fns

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        teacher_logits, teacher_features = self._teacher_forward(x)
        merged = self._merged(teacher_features)
        knowledge_fn, refresh_fn, bn_vars = self._fns()
        kernels = [a.projection.kernel for a in self.aggregators]
        with tf.GradientTape() as student_tape:
            student_logits, *student_features = self._student_tapped(x, training=True)
            measured = [self._to_measure(s) for s in student_features]
            with student_tape.stop_recording():
                with tf.GradientTape() as projection_tape:
                    projected = [a._projection(m) for a, m in zip(self.aggregators, merged)]
                knowledge_loss, d_projected, d_bn = knowledge_fn(
                    projected, [tf.stop_gradient(m) for m in measured])
                d_kernels = projection_tape.gradient(projected, kernels,
                                                     output_gradients=d_projected)
                self.knowledge_optimizer.apply(list(d_kernels) + list(d_bn),
                                               kernels + bn_vars)
                knowledge = refresh_fn([a._projection(m)
                                        for a, m in zip(self.aggregators, merged)])
                knowledge = [tf.stop_gradient(k) for k in knowledge]
            total, student_loss, prior_loss, posterior_loss = self._student_objective(
                y, sample_weight, student_logits, teacher_logits, knowledge, measured)
            scaled = self.optimizer.scale_loss(total)
        variables = self.student_variables()
        self.optimizer.apply(student_tape.gradient(scaled, variables), variables)
        return self._update_metrics(x, y, sample_weight, student_logits, total, student_loss,
                                    knowledge_loss, prior_loss, posterior_loss, None)


# name -> (distiller class, constructor keyword arguments)
VARIANTS = {
    "same_step": (variant("same_step"), {}),
    "before_cuts": (_BeforeCuts, {}),
    "before_cuts+kd": (_BeforeCuts, {"posterior": KD(temperature=4.0)}),
    "uncached_merge": (variant("uncached_merge", second_forward="uncached"), {}),
    "no_second_forward": (variant("no_second_forward", second_forward="none"), {}),
    "no_nested_tape": (variant("no_nested_tape", nested=False), {}),
    "no_knowledge_step": (variant("no_knowledge_step", knowledge_step=False), {}),
    "no_prior": (variant("no_prior", knowledge_step=False, prior=False), {}),
    "no_l2": (KRDistiller, {"feature_normalization": "none"}),
    "no_srp": (KRDistiller, {"sparse": False}),
    "k1": (_K1, {}),
    "concat_projection": (_ConcatProjection, {}),
    "concat_projection+kd": (_ConcatProjection, {"posterior": KD(temperature=4.0)}),
    "srp_before_cut": (_SRPBeforeCut, {}),
    "xla_elementwise": (_XLAElementwise, {}),
    # The library's option: the student matches the knowledge from before
    # the aggregators' step (no second aggregator forward).
    "simultaneous": (KRDistiller, {"refresh_knowledge": False}),
    "simultaneous+kd": (KRDistiller, {"refresh_knowledge": False,
                                      "posterior": KD(temperature=4.0)}),
}
