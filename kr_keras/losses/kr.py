"""Knowledge Representing (KR): the prior term and its knowledge aggregators.

Reference: Liu et al., "Knowledge Representing: Efficient, Sparse
Representation of Prior Knowledge for Knowledge Distillation" (Sec. 3.1-3.4).
The reading of its lost Eq. 9 and 10: docs/method.md.
"""

import keras
import tensorflow as tf

from kr_keras.layers.knowledge_aggregation import KnowledgeAggregation
from kr_keras.layers.sparse_recoding import SparseRecoding
from kr_keras.losses.common import paired_taps
from kr_keras.losses.common import require_known_sizes
from kr_keras.losses.common import scale_for_replicas
from kr_keras.losses.common import tap_names
from kr_keras.models.tap import default_tap_names
from kr_keras.ops.sparse_recode import recode_by_mask
from kr_keras.ops.sparse_recode import recode_gradient
from kr_keras.ops.sparse_recode import recoding_alignment

DEFAULTS = {"teacher_layers": None, "student_layers": None, "group_size": None,
            "gamma": 1.0, "boost": 2.0, "floor": 0.0, "target_inactive": 0.5,
            "threshold_rate": 0.05, "prior_warmup_steps": 0, "feature_normalization": "l2",
            "refresh_knowledge": True, "recode": "residual"}


def group_taps(teacher_taps, student_taps, group_size=None):
    """Splits teacher taps, in order, into one consecutive group per student
    tap (paper Sec. 3.3; `group_size` is its aggregation number k, `None`
    infers it). Raises a ValueError naming the counts when they do not divide.

    Example:

    >>> group_taps(["t1", "t2", "t3", "t4"], ["s1", "s2"])
    [['t1', 't2'], ['t3', 't4']]
    """
    n_teacher, n_student = len(teacher_taps), len(student_taps)
    if n_student == 0:
        raise ValueError("The student has no tapped layers; pass student_layers.")
    size = n_teacher // n_student if group_size is None else group_size
    if not isinstance(size, int) or size < 1 or size * n_student != n_teacher:
        raise ValueError(
            f"{n_teacher} teacher taps do not split into {n_student} groups (one per "
            f"student tap) of group_size={group_size}: pass teacher_layers/student_layers "
            "so that len(teacher_layers) == group_size * len(student_layers). Received: "
            f"teacher taps {teacher_taps}, student taps {student_taps}")
    return [list(teacher_taps[j * size:(j + 1) * size]) for j in range(n_student)]


def to_measure(feature, normalization):
    """A map in the space where KR matches it, float32: each example scaled
    to unit L2 norm (`"l2"`, paper Eq. 5's equal measure) or raw (`"none"`)."""
    feature = tf.cast(feature, tf.float32)
    if normalization == "l2":
        feature = tf.math.l2_normalize(feature, axis=[1, 2, 3], epsilon=1e-12)
    return feature


def residual_spread(residual, student):
    """Eq. 9's `sigma_j`: `std(residual) / rms(student)` of matched maps, no
    gradient (docs/method.md, "The σ weighting").

    Example:

    >>> s = tf.ones([1, 2, 2, 1])
    >>> float(residual_spread(tf.constant([[[[0.], [2.]], [[0.], [2.]]]]), s))
    1.0
    """
    residual, student = tf.stop_gradient(residual), tf.stop_gradient(student)
    return tf.math.reduce_std(residual) / tf.sqrt(tf.reduce_mean(tf.square(student)) + 1e-12)


def residual_distance(residual, normalization):
    """Batch mean of the per-example squared norm (unit-norm maps, in [0, 4])
    or the element mean of the squared residual (raw maps)."""
    if normalization == "l2":
        return tf.reduce_mean(tf.reduce_sum(tf.square(residual), axis=[1, 2, 3]))
    return tf.reduce_mean(tf.square(residual))


def default_kr_taps(teacher, student, teacher_layers=None, student_layers=None):
    """KR's taps: the given names, else every residual block output
    (`*block<i>_out`, the paper's grouping of k consecutive teacher blocks
    per student block) when both models have them, else the stage ends of
    `kr_keras.models.feature_taps` (any functional model; the deepest
    ends pair up when the counts differ, one teacher map per group).

    Example:

    >>> teacher = kr_keras.models.cifar_resnet(20, input_shape=(8, 8, 1))
    >>> student = kr_keras.models.cifar_resnet(8, input_shape=(8, 8, 1))
    >>> [len(t) for t in default_kr_taps(teacher, student)]
    [9, 3]
    """
    if teacher_layers is not None and student_layers is not None:
        return teacher_layers, student_layers
    names = []
    for model, layers in ((teacher, teacher_layers), (student, student_layers)):
        try:
            names.append(layers if layers is not None else default_tap_names(model))
        except ValueError:
            names = None
            break
    if names is not None:
        return names
    pairs = paired_taps("kr", teacher, student, teacher_layers, student_layers)
    return [t for t, _ in pairs], [s for _, s in pairs]


@keras.saving.register_keras_serializable(package="kr_keras")
class KnowledgeRepresenting(keras.layers.Layer, keras.distillation.DistillationLoss):
    """KR's prior term (Eq. 10) and its aggregators' objective (Eq. 9).

    One `KnowledgeAggregation` per student tap merges its group of teacher
    taps into the knowledge `K_j`. These helpers train on `helper_loss`
    (Eq. 9) in `kr_keras.distillers.Distiller`'s step before the student's
    on `compute_loss` (Eq. 10's prior with SRP, `kr_keras.layers.SparseRecoding`).
    The reading: docs/method.md. Logged: `knowledge_loss`, `prior_loss` and,
    with SRP, `tau`, `inactive_fraction`, `srp_cosine`, `srp_norm_ratio`.

    Args:
        teacher_layers: Teacher layer names, in order (a name or a list);
            default `default_kr_taps`.
        student_layers: Student layer names; default as the teacher's.
        group_size: Teacher taps per student tap (paper's k); `None` infers.
        gamma: Transport weight of Eq. 9's residual re-weighting.
        sparse: `False` replaces SRP by the identity (KR-Dense).
        boost: SRP gradient factor for residuals beyond `tau`.
        floor: SRP gradient factor for residuals within `tau`.
        target_inactive: The fraction of residuals SRP's `tau` keeps within.
        threshold_rate: Step of `tau`'s rule in log space.
        prior_warmup_steps: Ramps the term linearly from 0 over this many
            training steps (0: none).
        feature_normalization: `"l2"` (each example's maps matched at unit
            L2 norm) or `"none"` (raw maps).
        refresh_knowledge: `False` matches the student to the knowledge from
            before the aggregators' step (both steps from one forward).
        recode: What SRP recodes: `"residual"` (each residual's gradient,
            by `|s_j - K_j| > tau_j`) or `"weights"` (the term's gradient to
            each student kernel, by `|W| > tau_W`).
        **kwargs: Base layer keyword arguments.

    Example:

    ```python
    kr = kr_keras.losses.KnowledgeRepresenting(group_size=3)
    distiller = kr_keras.distillers.Distiller(teacher, student, [kr], [0.1])
    distiller.compile(optimizer="sgd", auxiliary_optimizer="sgd")
    ```
    """

    # Sec. 4.1's CIFAR knowledge optimizer, when compile() gets no auxiliary_optimizer.
    default_helper_optimizer = {"class_name": "SGD",
                                "config": {"learning_rate": 0.1, "momentum": 0.9}}

    def __init__(self, teacher_layers=None, student_layers=None, group_size=None, gamma=1.0,
                 sparse=True, boost=2.0, floor=0.0, target_inactive=0.5, threshold_rate=0.05,
                 prior_warmup_steps=0, feature_normalization="l2", refresh_knowledge=True,
                 recode="residual", **kwargs):
        if recode not in ("residual", "weights"):
            raise ValueError("`recode` must be 'residual' or 'weights'. "
                             f"Received: recode={recode!r}")
        if feature_normalization not in ("l2", "none"):
            raise ValueError("`feature_normalization` must be 'l2' or 'none'. "
                             f"Received: feature_normalization={feature_normalization!r}")
        if gamma < 0 or prior_warmup_steps < 0:
            raise ValueError("`gamma` and `prior_warmup_steps` must be >= 0. Received: "
                             f"gamma={gamma}, prior_warmup_steps={prior_warmup_steps}")
        super().__init__(**kwargs)
        self.teacher_layer_name = tap_names(teacher_layers)
        self.student_layer_name = tap_names(student_layers)
        self.group_size, self.gamma, self.sparse = group_size, float(gamma), bool(sparse)
        self.boost, self.floor = float(boost), float(floor)
        self.target_inactive, self.threshold_rate = float(target_inactive), float(threshold_rate)
        self.prior_warmup_steps = int(prior_warmup_steps)
        self.feature_normalization = feature_normalization
        self.refresh_knowledge, self.recode = bool(refresh_knowledge), recode
        self._knowledge_before = self._batch = None
        self.trackers = {name: keras.metrics.Mean(name=name) for name in (
            ["knowledge_loss", "prior_loss"] + (["tau", "inactive_fraction", "srp_cosine",
                                                "srp_norm_ratio"] if sparse else []))}

    @property
    def recodes_student_gradients(self):
        """Whether the distiller calls `recode_student_gradients` (SRP on the weights)."""
        return self.sparse and self.recode == "weights"

    def validate_model_compatibility(self, teacher, student):
        """Resolves the taps and builds one aggregator (and SRP) per student tap."""
        if self.built:
            return
        self.teacher_layer_name, self.student_layer_name = default_kr_taps(
            teacher, student, self.teacher_layer_name, self.student_layer_name)
        groups = group_taps(self.teacher_layer_name, self.student_layer_name, self.group_size)
        for model, role, names in ((teacher, "teacher", self.teacher_layer_name),
                                   (student, "student", self.student_layer_name)):
            require_known_sizes("KR", model, role, names)
        self.group_size = len(groups[0])
        self.aggregators, self.recoders, self.recoded_paths = [], [], []

        def recoder(name, shape):
            layer = SparseRecoding(self.boost, self.floor, self.target_inactive,
                                   self.threshold_rate, name=name)
            layer.build(shape)
            self.recoders.append(layer)

        for j, (name, group) in enumerate(zip(self.student_layer_name, groups)):
            s_shape = student.get_layer(name).output.shape
            t_shapes = [teacher.get_layer(n).output.shape for n in group]
            if len(s_shape) != 4 or any(len(s) != 4 for s in t_shapes):
                raise ValueError(
                    "KR taps must be 4D channels-last feature maps. Received: student "
                    f"{name}{tuple(s_shape)}, teacher {list(zip(group, map(tuple, t_shapes)))}")
            aggregator = KnowledgeAggregation(s_shape[-1], s_shape[1:3], name=f"aggregation_{j}")
            aggregator.build(t_shapes)
            self.aggregators.append(aggregator)
            if self.sparse and self.recode == "residual":
                recoder(f"sparse_recoding_{j}", s_shape)
        if self.recodes_student_gradients:  # one threshold per student kernel
            for variable in student.trainable_variables:
                if len(variable.shape) >= 2:
                    recoder(f"weight_recoding_{len(self.recoders)}", variable.shape)
                    self.recoded_paths.append(variable.path)
        self.steps = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                     name="steps", aggregation="only_first_replica")
        self.built = True

    def knowledge(self, teacher_features, training, update_statistics=True):
        """`[K_j]`: each group's teacher maps through its aggregator."""
        size = self.group_size
        return [a.project(a.merge(teacher_features[j * size:(j + 1) * size]),
                          training=training, update_statistics=update_statistics)
                for j, a in enumerate(self.aggregators)]

    def helper_loss(self, teacher_outputs, student_outputs, training=None, **kwargs):
        """Eq. 9 on stop-gradient student maps; the aggregators' objective."""
        knowledge = self.knowledge(teacher_outputs, training=training)
        if training and not self.refresh_knowledge:
            self._knowledge_before = [tf.stop_gradient(k) for k in knowledge]
        total = 0.0
        for k_j, s_j in zip(knowledge, student_outputs):
            k_j = to_measure(k_j, self.feature_normalization)
            s_j = tf.stop_gradient(to_measure(s_j, self.feature_normalization))
            residual = k_j - s_j
            total += (1.0 + self.gamma * residual_spread(residual, s_j)) * residual_distance(
                residual, self.feature_normalization)
        self._track("knowledge_loss", total, student_outputs)
        return scale_for_replicas(total)

    def compute_loss(self, teacher_outputs, student_outputs, training=None, **kwargs):
        """Eq. 10's prior term, unweighted (the distiller applies `mu`)."""
        if self._knowledge_before is not None:
            knowledge, self._knowledge_before = self._knowledge_before, None
        else:  # after the aggregators' step: this batch's statistics, not moved again
            knowledge = self.knowledge(teacher_outputs, training=training,
                                       update_statistics=False)
        total, residuals, actives = 0.0, [], []
        self._batch = tf.shape(student_outputs[0])[0]
        for j, (k_j, s_j) in enumerate(zip(knowledge, student_outputs)):
            k_j = tf.stop_gradient(to_measure(k_j, self.feature_normalization))
            residual = to_measure(s_j, self.feature_normalization) - k_j
            if self.sparse and self.recode == "residual":
                # K_j is constant here: recoding the residual recodes s_j's
                # gradient, which the squared distance makes proportional to it.
                residuals.append(tf.stop_gradient(residual))
                recoder = self.recoders[j]
                actives.append(recoder.active(residual, training=True) if training
                               else tf.abs(residuals[-1]) > recoder.tau)
                if training:
                    residual = recode_by_mask(residual, actives[-1], self.boost, self.floor)
            total += residual_distance(residual, self.feature_normalization)
        self._track("prior_loss", total, student_outputs)
        if self.sparse and not (training and self.recodes_student_gradients):
            self._track_recoding(residuals, actives)
        if self.prior_warmup_steps:  # the weight of this (or, evaluating, the next) step
            if training:
                self.steps.assign_add(1.0)
            step = tf.convert_to_tensor(self.steps) + (0.0 if training else 1.0)
            total *= tf.minimum(1.0, step / float(self.prior_warmup_steps))
        return scale_for_replicas(total)

    def recode_student_gradients(self, gradients, variables):
        """SRP on the weights: each student kernel's gradient of this term
        times `boost` where `|W| > tau_W`, else `floor` (one threshold per
        kernel, learned as with the residuals); other gradients unchanged.

        Args:
            gradients: This term's gradients (times its weight) to `variables`.
            variables: The student's trainable variables.

        Returns:
            The recoded gradients, in order.
        """
        # Nested models can repeat a path ("conv/kernel" in two sub-models):
        # the k-th variable of a path takes the k-th threshold built for it.
        by_key = dict(zip(_occurrences(self.recoded_paths), self.recoders))
        recoded, dense, actives, used = [], [], [], []
        keys = _occurrences(v.path for v in variables)
        for gradient, variable, key in zip(gradients, variables, keys):
            recoder = by_key.get(key)
            if gradient is None or recoder is None:
                recoded.append(gradient)
                continue
            active = recoder.active(variable, training=True)
            recoded.append(recode_gradient(gradient, active, self.boost, self.floor))
            dense.append(gradient)
            actives.append(active)
            used.append(recoder)
        if dense:
            self._track_recoding(dense, actives, used)
        return recoded

    def _track_recoding(self, gradients, actives, recoders=None):
        """Logs the mean tau and inactive fraction of `recoders` (default all)
        and SRP's cosine and norm ratio over `gradients`."""
        recoders = self.recoders if recoders is None else recoders
        for name, values in (("tau", [r.tau for r in recoders]),
                             ("inactive_fraction", [r.inactive_fraction for r in recoders])):
            self._track(name, tf.add_n([tf.convert_to_tensor(v) for v in values])
                        / len(values))
        if gradients:
            cosine, ratio = recoding_alignment(gradients, actives, self.boost, self.floor)
            self._track("srp_cosine", cosine)
            self._track("srp_norm_ratio", ratio)

    def _track(self, name, value, student_outputs=None):
        batch = self._batch if student_outputs is None else tf.shape(student_outputs[0])[0]
        self.trackers[name].update_state(value, sample_weight=batch)

    def get_config(self):
        # The taps are stored as `*_layer_name`; every other default under its own name.
        return {**super().get_config(), "teacher_layers": self.teacher_layer_name,
                "student_layers": self.student_layer_name, "sparse": self.sparse,
                **{k: getattr(self, k) for k in DEFAULTS if not k.endswith("_layers")}}


def _occurrences(paths):
    """`(path, k)` for each path, `k` counting its earlier repeats."""
    seen = {}
    for path in paths:
        seen[path] = seen.get(path, -1) + 1
        yield path, seen[path]
