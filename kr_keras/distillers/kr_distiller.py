"""`KRDistiller`: Knowledge Representing with two alternating optimizers.

Paper: Liu et al., "Knowledge Representing: Efficient, Sparse Representation
of Prior Knowledge for Knowledge Distillation" (Sec. 3.1-3.4). The project's
reading of the lost equations is written down in docs/method.md.
"""

import keras
import tensorflow as tf

from kr_keras.distillers.base import BaseDistiller
from kr_keras.distillers.base import helper_variables
from kr_keras.distillers.common import build_optimizer
from kr_keras.distillers.common import check_teacher_student
from kr_keras.distillers.common import copy_optimizer
from kr_keras.distillers.common import replica_scale
from kr_keras.distillers.common import unwrapped
from kr_keras.layers.knowledge_aggregation import KnowledgeAggregation
from kr_keras.layers.sparse_recoding import SparseRecoding
from kr_keras.models.tap import default_tap_names


def group_taps(teacher_taps, student_taps, group_size=None):
    """Splits teacher taps, in order, into one consecutive group per student
    tap (paper Sec. 3.3).

    Args:
        teacher_taps: List of teacher tap names (or shapes, anything).
        student_taps: List of student tap names.
        group_size: Teacher taps per student tap (the paper's aggregation
            number k: 3 on CIFAR, 4 on ImageNet). `None` infers it.

    Returns:
        A list of `len(student_taps)` lists of teacher taps.

    Raises:
        ValueError: naming the counts, when they do not divide.
    """
    n_teacher, n_student = len(teacher_taps), len(student_taps)
    if n_student == 0:
        raise ValueError("The student has no tapped layers; pass student_layers.")
    if group_size is None:
        if n_teacher % n_student:
            raise ValueError(
                f"{n_teacher} teacher taps do not divide into {n_student} "
                "groups (one per student tap). Pass teacher_layers/"
                "student_layers so that len(teacher_layers) == group_size * "
                f"len(student_layers). Received: teacher taps {teacher_taps}, "
                f"student taps {student_taps}"
            )
        group_size = n_teacher // n_student
    if not isinstance(group_size, int) or group_size < 1:
        raise ValueError(
            f"`group_size` must be an int >= 1. Received: group_size={group_size}"
        )
    if group_size * n_student != n_teacher:
        raise ValueError(
            f"group_size={group_size} x {n_student} student taps = "
            f"{group_size * n_student} teacher taps are needed, but the teacher "
            f"has {n_teacher}. Use group_size={n_teacher / n_student:g} if that "
            "is an integer, or pass teacher_layers/student_layers explicitly. "
            f"Received: teacher taps {teacher_taps}, student taps {student_taps}"
        )
    return [
        list(teacher_taps[j * group_size:(j + 1) * group_size])
        for j in range(n_student)
    ]


@keras.saving.register_keras_serializable(package="kr_keras")
class KRDistiller(BaseDistiller):
    """Knowledge Representing distiller (paper Sec. 3).

    Per batch, one frozen teacher forward (`training=False`) and one student
    forward feed two alternating updates:

    1. **Knowledge step** (paper Eq. 9), knowledge optimizer, aggregators
       only: `L_K = sum_j (1 + gamma * sigma_j) * d(K_j, sg(s_j))`
       with `K_j = A_j(group_j of teacher taps)` and the relative residual
       spread `sigma_j = sg(std(K_j - s_j) / rms(s_j))`, which does not
       depend on the map's size or norm (about `sqrt(d_j)` for unit-norm
       maps), so `gamma` weighs more the groups with the larger residual.
    2. **Student step** (paper Eq. 10), student optimizer, student weights
       and SRP thresholds only, against the knowledge of the *updated*
       aggregators (`refresh_knowledge=False`: of the aggregators before
       their update): `L_S = w_s * CE(y, S(x)) + sum_i w_i * M_i(T(x), S(x))
       + mu * sum_j mean((SRP(s_j) - sg(K_j))**2)`, where SRP recodes the
       gradient by the residual `s_j - K_j` (`kr_keras.layers.SparseRecoding`).
       With `sparse=False` SRP is the identity ("KR-Dense").

    Both matches compare the maps after scaling each example's map to unit
    L2 norm (`feature_normalization="l2"`, the default): `mean(...)` above
    then reads as a per-example sum of squares, averaged over the batch.

    `call` returns the student's logits; `distiller.student` is the trained
    student, a plain `keras.Model`. The student's regularisers are added to
    L_S outside `w_s`. Metrics: `loss` (= L_S), `student_loss` (the
    compiled loss, CE), `knowledge_loss` (L_K),
    `prior_loss` (the unweighted SRP match), `distillation_loss` (the
    weighted posterior terms, when any), with SRP `tau` (the thresholds'
    mean over taps) and `inactive_fraction` (the fraction of residual
    entries SRP filtered, mean over taps), and the compiled metrics.

    Args:
        teacher: A trained, built functional `keras.Model` returning logits.
            Frozen here.
        student: A built functional `keras.Model` returning logits.
        teacher_layers: Names of the teacher layers to tap, in order.
            Defaults to its residual block outputs.
        student_layers: Names of the student layers to tap. Defaults to its
            residual block outputs.
        group_size: Teacher taps per student tap (the paper's k); `None`
            infers `len(teacher_layers) / len(student_layers)`.
        mu: Weight of the prior (SRP) term in Eq. 10. 0.1, the value chosen on
            validation data in `results/kr_study.md` (mu = 0.3 and 1 were
            worse there: the prior term then outweighs the cross-entropy).
        gamma: Transport weight of the std re-weighting in Eq. 9.
        sparse: `False` replaces SRP by the identity (KR-Dense).
        boost: SRP gradient multiplier for dominant residuals.
        floor: SRP gradient multiplier for residuals within `tau`.
        target_inactive: Fraction of residuals SRP keeps inactive.
        threshold_rate: Step size of SRP's threshold rule in log space
            (`kr_keras.layers.SparseRecoding`): `tau` moves by at most
            `threshold_rate * max(target, 1 - target)` of itself per step,
            independent of the student optimizer.
        posterior: `None`, a `keras.distillation.DistillationLoss` on the
            logits (e.g. `kr_keras.losses.KD()`), or a list of them. A loss
            owning helpers with their own `helper_loss` (e.g.
            `kr_keras.losses.KDGANDistillation`'s discriminator) has them
            trained by `compile(posterior_optimizer=...)` before each
            student step; `auxiliary_loss` reports that objective.
        distillation_loss_weights: Weight(s) of the posterior term(s);
            defaults to 1.0 each.
        student_loss_weight: Weight of the cross-entropy term.
        aggregation_momentum: Batch-norm momentum of the aggregators.
        prior_warmup_steps: Ramps `mu` linearly from 0 over this many
            student steps, so the aggregators fit the student before it is
            pulled towards their knowledge (paper Sec. 4.3: convergence is
            harder when the knowledge starts far from the student). 0 (the
            default) applies `mu` from the first step.
        refresh_knowledge: `True` (default) re-projects the teacher maps
            with the updated aggregators for the student step: the two
            objectives alternate within the batch (paper Sec. 3.4).
            `False` gives the student the knowledge computed before the
            aggregators' step (both steps from one aggregator forward): no
            faster on CPU, and KR + KD lost 1.5 points with it
            (`results/kr_study.md`, "simultaneous steps"; BUILD.md).
        feature_normalization: `"l2"` (default) matches each example's
            student map and knowledge map after scaling both to unit L2
            norm — equal total measure, paper Eq. 5 — so neither step can
            lower its loss by shrinking the maps; the losses are then
            per-example sums (in [0, 4] per tap). `"none"` matches the raw
            maps with element means (the literal reading of Eq. 9-10), which
            let the student shrink its features towards zero in our runs
            (docs/method.md).
        name: Model name.

    Example:

    ```python
    teacher = kr_keras.models.cifar_resnet(20, input_shape=(28, 28, 1))
    student = kr_keras.models.cifar_resnet(
        8, width_multiplier=0.75, input_shape=(28, 28, 1))
    # ... train the teacher with compile/fit ...
    distiller = kr_keras.KRDistiller(teacher, student, group_size=3)
    distiller.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        auxiliary_optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
        metrics=["accuracy"])
    distiller.fit(train_ds, validation_data=test_ds, epochs=10)
    distiller.student.save("student.keras")
    ```
    """

    def __init__(
        self,
        teacher,
        student,
        teacher_layers=None,
        student_layers=None,
        group_size=None,
        mu=0.1,
        gamma=1.0,
        sparse=True,
        boost=2.0,
        floor=0.0,
        target_inactive=0.5,
        threshold_rate=0.05,
        posterior=None,
        distillation_loss_weights=None,
        student_loss_weight=1.0,
        aggregation_momentum=0.9,
        prior_warmup_steps=0,
        feature_normalization="l2",
        refresh_knowledge=True,
        name="kr_distiller",
        **kwargs,
    ):
        check_teacher_student(teacher, student)
        if feature_normalization not in ("l2", "none"):
            raise ValueError(
                "`feature_normalization` must be 'l2' or 'none'. "
                f"Received: feature_normalization={feature_normalization!r}"
            )
        if prior_warmup_steps < 0:
            raise ValueError(
                "`prior_warmup_steps` must be >= 0. "
                f"Received: prior_warmup_steps={prior_warmup_steps}"
            )
        if mu < 0 or gamma < 0:
            raise ValueError(
                f"`mu` and `gamma` must be >= 0. Received: mu={mu}, gamma={gamma}"
            )
        teacher_layers = (default_tap_names(teacher) if teacher_layers is None
                          else list(teacher_layers))
        student_layers = (default_tap_names(student) if student_layers is None
                          else list(student_layers))
        groups = group_taps(teacher_layers, student_layers, group_size)
        posteriors = _as_list(posterior)
        for loss in posteriors:
            if not isinstance(loss, keras.distillation.DistillationLoss) or any(
                    getattr(loss, f"{r}_layer_name", None) is not None
                    for r in ("teacher", "student")):
                raise ValueError(
                    "`posterior` takes keras.distillation.DistillationLosses "
                    "on the logits (no teacher_layer_name/student_layer_name, "
                    "e.g. kr_keras.losses.KD()), or a list of them; feature "
                    "losses go in kr_keras.distillers.Distiller. "
                    f"Received: posterior={posterior!r}"
                )

        if distillation_loss_weights is None:
            distillation_loss_weights = [1.0] * len(posteriors)
        distillation_loss_weights = [float(w) for w in _as_list(distillation_loss_weights)]
        if len(distillation_loss_weights) != len(posteriors):
            raise ValueError(
                "`distillation_loss_weights` needs one weight per posterior "
                f"term. Received: {len(distillation_loss_weights)} weights for "
                f"{len(posteriors)} terms"
            )
        super().__init__(teacher, student, student_loss_weight, name=name, **kwargs)
        self.teacher_layers = teacher_layers
        self.student_layers = student_layers
        self.group_size = len(groups[0])
        self.mu = float(mu)
        self.gamma = float(gamma)
        self.sparse = bool(sparse)
        self.boost = float(boost)
        self.floor = float(floor)
        self.target_inactive = float(target_inactive)
        self.threshold_rate = float(threshold_rate)
        self.posterior = posteriors
        self.distillation_loss_weights = distillation_loss_weights
        self.aggregation_momentum = float(aggregation_momentum)
        self.prior_warmup_steps = int(prior_warmup_steps)
        self.feature_normalization = feature_normalization
        self.refresh_knowledge = bool(refresh_knowledge)

        self.set_taps(teacher_layers, student_layers)
        t_shapes = {n: teacher.get_layer(n).output.shape for n in teacher_layers}
        self.aggregators = []
        self.recoders = []
        for j, (s_name, group) in enumerate(zip(student_layers, groups)):
            s_shape = student.get_layer(s_name).output.shape
            if len(s_shape) != 4 or any(len(t_shapes[n]) != 4 for n in group):
                raise ValueError(
                    "KR taps must be 4D channels-last feature maps. Received: "
                    f"student {s_name}{tuple(s_shape)}, teacher "
                    f"{[(n, tuple(t_shapes[n])) for n in group]}"
                )
            aggregator = KnowledgeAggregation(
                filters=s_shape[-1],
                target_size=s_shape[1:3],
                momentum=aggregation_momentum,
                name=f"aggregation_{j}",
            )
            aggregator.build([t_shapes[n] for n in group])
            self.aggregators.append(aggregator)
            if self.sparse:
                recoder = SparseRecoding(
                    boost=boost,
                    floor=floor,
                    target_inactive=target_inactive,
                    threshold_rate=threshold_rate,
                    name=f"sparse_recoding_{j}",
                )
                recoder.build(s_shape, s_shape)
                self.recoders.append(recoder)
        self._groups = [[teacher_layers.index(n) for n in g] for g in groups]
        for loss in posteriors:  # builds their helpers
            loss.validate_model_compatibility(teacher, student)
        if helper_variables(posteriors, adversarial=False):
            raise ValueError(
                "A posterior loss may own helpers only with their own "
                "`helper_loss` (trained before the student step); use "
                f"kr_keras.distillers.Distiller for others. Received: posterior={posterior!r}")

        self.knowledge_loss_tracker = keras.metrics.Mean(name="knowledge_loss")
        self.prior_loss_tracker = keras.metrics.Mean(name="prior_loss")
        self.distillation_loss_tracker = (
            keras.metrics.Mean(name="distillation_loss") if posteriors else None
        )
        self.threshold_trackers = (
            [keras.metrics.Mean(name="tau"), keras.metrics.Mean(name="inactive_fraction")]
            if self.sparse else []
        )
        self.auxiliary_loss_tracker = (
            keras.metrics.Mean(name="auxiliary_loss")
            if helper_variables(posteriors, adversarial=True) else None)
        self.posterior_optimizer = None
        # Every part was built above from the models' symbolic shapes.
        self.built = True

    # ------------------------------------------------------------------ API
    @property
    def knowledge_variables(self):
        """Trainable variables of the knowledge step (aggregators only)."""
        return [v for a in self.aggregators for v in a.trainable_variables]

    def auxiliary_variables(self):
        return self.knowledge_variables

    def default_auxiliary_optimizer(self, optimizer):
        """The paper's CIFAR knowledge optimizer, SGD(0.1, momentum 0.9)."""
        return keras.optimizers.SGD(0.1, momentum=0.9)

    @property
    def knowledge_optimizer(self):
        """Eq. 9's optimizer: `auxiliary_optimizer`."""
        return self.auxiliary_optimizer

    def compile(self, optimizer=None, loss=None, metrics=None, auxiliary_optimizer=None,
                student_optimizer=None, knowledge_optimizer=None,
                posterior_optimizer=None, **kwargs):
        """Configures the optimizers, the student loss and the metrics.

        Args:
            optimizer: Optimizer of Eq. 10 (the student). Paper CIFAR
                default: SGD(0.01, momentum 0.9). Alias: `student_optimizer`.
            loss: Student loss on `(y, logits)`; defaults to sparse
                categorical cross-entropy from logits.
            metrics: Metrics of the student logits, e.g. `["accuracy"]`.
            auxiliary_optimizer: Optimizer of Eq. 9 (the aggregators). Paper
                CIFAR default: SGD(0.1, momentum 0.9); give it a
                `LearningRateSchedule` for the paper's step schedule.
                Alias: `knowledge_optimizer`.
            posterior_optimizer: Optimizer of the posterior losses' helpers
                (e.g. a KDGAN discriminator); default a copy of the student
                optimizer's config.
            **kwargs: Passed to `keras.Model.compile` (`jit_compile`, ...).
        """
        for name, value, alias, other in (
                ("optimizer", optimizer, "student_optimizer", student_optimizer),
                ("auxiliary_optimizer", auxiliary_optimizer, "knowledge_optimizer",
                 knowledge_optimizer)):
            if value is not None and other is not None:
                raise ValueError(f"Pass either `{name}` or its alias `{alias}`, not both. "
                                 f"Received: {alias}={other!r}")
        super().compile(optimizer or student_optimizer, loss, metrics,
                        auxiliary_optimizer or knowledge_optimizer, **kwargs)
        helpers = helper_variables(self.posterior, adversarial=True)
        if helpers:
            self.posterior_optimizer = build_optimizer(
                posterior_optimizer or copy_optimizer(self._compile_arguments["optimizer"]),
                helpers, "posterior_optimizer")
            self._compile_arguments["posterior_optimizer"] = (
                posterior_optimizer and unwrapped(self.posterior_optimizer))

    # ----------------------------------------------------------- the steps
    def _merged(self, teacher_features):
        """Each group's teacher maps mapped to its student tap's size, a
        list per group (weight-free, so computed once per batch)."""
        return [
            aggregator.merge([teacher_features[i] for i in group])
            for aggregator, group in zip(self.aggregators, self._groups)
        ]

    def _knowledge(self, merged, training, update_statistics=True):
        return [
            aggregator.project(m, training=training, update_statistics=update_statistics)
            for aggregator, m in zip(self.aggregators, merged)
        ]

    def _to_measure(self, feature):
        """A feature map in the space where KR matches it, float32.

        `"l2"`: each example's map scaled to unit L2 norm, so that student
        map and knowledge have equal total measure (paper Eq. 5) and the
        match cannot be lowered by shrinking the student's features.
        `"none"`: the raw map (the literal reading of Eq. 9-10).
        """
        feature = tf.cast(feature, tf.float32)
        if self.feature_normalization == "l2":
            feature = tf.math.l2_normalize(feature, axis=[1, 2, 3], epsilon=1e-12)
        return feature

    def _distance(self, a, b):
        """Squared distance of two matched maps, averaged over the batch:
        per-example sum for unit-norm maps (in [0, 4]), the element mean for
        raw maps."""
        return self._residual_distance(a - b)

    def _residual_distance(self, residual):
        """`_distance` from the residual `a - b`."""
        if self.feature_normalization == "l2":
            return tf.reduce_mean(tf.reduce_sum(tf.square(residual), axis=[1, 2, 3]))
        return tf.reduce_mean(tf.square(residual))

    def _residual_weight(self, residual, student_feature):
        """`1 + gamma * sigma_j` from a measured residual `K_j - s_j` and
        the measured student map `s_j` (no gradient)."""
        residual = tf.stop_gradient(residual)
        student_feature = tf.stop_gradient(student_feature)
        rms = tf.sqrt(tf.reduce_mean(tf.square(student_feature)) + 1e-12)
        return 1.0 + self.gamma * (tf.math.reduce_std(residual) / rms)

    def knowledge_weights(self, knowledge, student_features):
        """Eq. 9's per-group weights `1 + gamma * sigma_j` (no gradient).

        `sigma_j = std(K_j - s_j) / rms(s_j)`: the spread of the residual
        relative to the student map's own scale, measured in the matching
        space. It does not depend on the map's size or norm: for unit-norm
        maps it equals `std(residual) * sqrt(H * W * C)`, about the
        per-example residual norm (in [0, 2]). (The plain std of a
        unit-norm residual, ~1e-2, left every weight within 1.06 of 1.)
        """
        weights = []
        for k_j, s_j in zip(knowledge, student_features):
            k_j, s_j = self._to_measure(k_j), self._to_measure(s_j)
            weights.append(self._residual_weight(k_j - s_j, s_j))
        return weights

    def _knowledge_loss(self, knowledge, student_features, measured=False):
        """Eq. 9: residual-spread re-weighted match of K_j to sg(s_j).

        `measured`: the student maps are already `_to_measure`d (the train
        step measures each once for both steps). Each group's residual is
        formed once and serves the weight and the distance.
        """
        total = 0.0
        for k_j, s_j in zip(knowledge, student_features):
            k_j = self._to_measure(k_j)
            s_j = tf.stop_gradient(s_j if measured else self._to_measure(s_j))
            residual = k_j - s_j
            total += self._residual_weight(residual, s_j) * self._residual_distance(residual)
        return total

    def _prior_loss(self, knowledge, student_features, recode=True, measured=False):
        """Eq. 10's prior term: sum_j d(SRP(s_j), sg(K_j)); SRP only in the
        student step (`recode`). `measured`: the student maps are already
        `_to_measure`d."""
        total = 0.0
        for j, (k_j, s_j) in enumerate(zip(knowledge, student_features)):
            k_j = tf.stop_gradient(self._to_measure(k_j))
            s_j = s_j if measured else self._to_measure(s_j)
            residual = s_j - k_j
            if self.sparse and recode:
                # Recoding the residual recodes the gradient to s_j (K_j is
                # constant here), with one subtraction instead of two.
                residual = self.recoders[j](residual, residual, training=True)
            total += self._residual_distance(residual)
        return total

    def _posterior_helpers(self, teacher_logits, student_logits, y, training):
        """The posterior losses' helpers' own objective, after their step
        when `training` (`None` without such helpers)."""
        return self.helper_step(self.posterior, self.posterior_optimizer,
                                (teacher_logits, {}), (student_logits, {}), y, training)

    def _posterior_loss(self, teacher_logits, student_logits, y, training):
        """The weighted posterior terms (each already divided by the replicas)."""
        return self.distillation(self.posterior, self.distillation_loss_weights,
                                 (teacher_logits, {}), (student_logits, {}), y, training)

    def _prior_weight(self):
        if not self.prior_warmup_steps:
            return self.mu
        step = tf.cast(self.optimizer.iterations + 1, tf.float32)
        return self.mu * tf.minimum(1.0, step / float(self.prior_warmup_steps))

    def _student_objective(self, y, sample_weight, student_logits, teacher_logits,
                           knowledge, measured):
        """Eq. 10 on measured student maps and fixed knowledge:
        `(total, student_loss, prior_loss, posterior_loss or None)`."""
        student_loss, regularisers = self.student_loss(y, student_logits, sample_weight)
        prior_loss = self._prior_loss(knowledge, measured, measured=True)
        total = student_loss * self.student_loss_weight + regularisers
        total += replica_scale(self._prior_weight() * prior_loss)
        posterior_loss = None
        if self.posterior:
            posterior_loss = self._posterior_loss(
                teacher_logits, student_logits, y, training=True)
            total += posterior_loss
        return total, student_loss, prior_loss, posterior_loss

    def _teacher_forward(self, x):
        teacher_logits, features = self.teacher_forward(x)
        return teacher_logits, [features[n] for n in self.teacher_layers]

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        teacher_logits, teacher_features = self._teacher_forward(x)
        merged = self._merged(teacher_features)

        with tf.GradientTape() as student_tape:
            student_logits, *student_features = self._student_tapped(
                x, training=True
            )
            # Each student map in the matching space once, for both steps.
            measured = [self._to_measure(s) for s in student_features]
            # Knowledge step (Eq. 9) on the aggregators alone, outside the
            # student's tape.
            with student_tape.stop_recording():
                with tf.GradientTape() as knowledge_tape:
                    knowledge = self._knowledge(merged, training=True)
                    knowledge_loss = self._knowledge_loss(
                        knowledge, [tf.stop_gradient(m) for m in measured], measured=True
                    )
                    scaled = self.knowledge_optimizer.scale_loss(
                        replica_scale(knowledge_loss)
                    )
                knowledge_variables = self.knowledge_variables
                self.knowledge_optimizer.apply(
                    knowledge_tape.gradient(scaled, knowledge_variables),
                    knowledge_variables,
                )
                # Student step targets: knowledge of the updated aggregators,
                # batch-normalised with this batch's statistics without
                # moving the averages a second time (or the knowledge above).
                if self.refresh_knowledge:
                    knowledge = self._knowledge(merged, training=True,
                                                update_statistics=False)
                knowledge = [tf.stop_gradient(k) for k in knowledge]
                # Posterior helpers' step (e.g. a discriminator's) first.
                auxiliary = self._posterior_helpers(
                    teacher_logits, student_logits, y, training=True)
            # Student step (Eq. 10).
            total, student_loss, prior_loss, posterior_loss = self._student_objective(
                y, sample_weight, student_logits, teacher_logits, knowledge, measured)
            scaled = self.optimizer.scale_loss(total)
        student_variables = self.student_variables()
        self.optimizer.apply(
            student_tape.gradient(scaled, student_variables), student_variables
        )
        return self._update_metrics(
            x, y, sample_weight, student_logits, total, student_loss,
            knowledge_loss, prior_loss, posterior_loss, auxiliary,
        )

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        teacher_logits, teacher_features = self._teacher_forward(x)
        student_logits, *student_features = self._student_tapped(x, training=False)
        knowledge = self._knowledge(self._merged(teacher_features), training=False)
        knowledge_loss = self._knowledge_loss(knowledge, student_features)
        student_loss, regularisers = self.student_loss(y, student_logits, sample_weight)
        prior_loss = self._prior_loss(knowledge, student_features, recode=False)
        total = student_loss * self.student_loss_weight + regularisers
        total += replica_scale(self._prior_weight() * prior_loss)
        auxiliary = self._posterior_helpers(teacher_logits, student_logits, y, training=False)
        posterior_loss = None
        if self.posterior:
            posterior_loss = self._posterior_loss(
                teacher_logits, student_logits, y, training=False)
            total += posterior_loss
        return self._update_metrics(
            x, y, sample_weight, student_logits, total, student_loss,
            knowledge_loss, prior_loss, posterior_loss, auxiliary,
        )

    def _update_metrics(self, x, y, sample_weight, student_logits, total, student_loss,
                        knowledge_loss, prior_loss, posterior_loss, auxiliary):
        if self.threshold_trackers:
            tau, fraction = self.threshold_trackers
            tau.update_state(tf.add_n([tf.convert_to_tensor(r.tau) for r in self.recoders])
                             / len(self.recoders))
            fraction.update_state(
                tf.add_n([tf.convert_to_tensor(r.inactive_fraction) for r in self.recoders])
                / len(self.recoders))
        # Losses carrying the 1/replicas factor (KR's own terms do not).
        return self.update_metrics(x, y, sample_weight, student_logits, total, [
            (self.student_loss_tracker, student_loss),
            (self.knowledge_loss_tracker, replica_scale(knowledge_loss)),
            (self.prior_loss_tracker, replica_scale(prior_loss)),
            (self.distillation_loss_tracker, posterior_loss),
            (self.auxiliary_loss_tracker, auxiliary)])

    # -------------------------------------------------------- serialisation
    def get_config(self):
        config = {
            "teacher_layers": self.teacher_layers,
            "student_layers": self.student_layers,
            "group_size": self.group_size,
            "mu": self.mu,
            "gamma": self.gamma,
            "sparse": self.sparse,
            "boost": self.boost,
            "floor": self.floor,
            "target_inactive": self.target_inactive,
            "threshold_rate": self.threshold_rate,
            "posterior": [
                keras.saving.serialize_keras_object(p) for p in self.posterior
            ],
            "distillation_loss_weights": list(self.distillation_loss_weights),
            "aggregation_momentum": self.aggregation_momentum,
            "prior_warmup_steps": self.prior_warmup_steps,
            "feature_normalization": self.feature_normalization,
            "refresh_knowledge": self.refresh_knowledge,
        }
        base_config = super().get_config()
        return {**base_config, **config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["posterior"] = [
            keras.saving.deserialize_keras_object(p) for p in config["posterior"]
        ]
        return super().from_config(config)


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]
