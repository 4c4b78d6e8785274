"""`KRDistiller`: Knowledge Representing as a `Distiller` of its losses.

Paper: Liu et al., "Knowledge Representing: Efficient, Sparse Representation
of Prior Knowledge for Knowledge Distillation" (Sec. 3.1-3.4). The project's
reading of the lost equations is written down in docs/method.md.
"""

import keras

from kr_keras.distillers.distiller import Distiller
from kr_keras.losses.kr import DEFAULTS
from kr_keras.losses.kr import KnowledgeRepresenting

# The KnowledgeRepresenting arguments KRDistiller passes through.
KR_ARGUMENTS = tuple(DEFAULTS)


@keras.saving.register_keras_serializable(package="kr_keras")
class KRDistiller(Distiller):
    """Knowledge Representing distiller (paper Sec. 3): a `Distiller` of
    `[KnowledgeRepresenting, *posterior]` weighted `[mu, *weights]`.

    Per batch, one frozen teacher forward and one student forward feed two
    alternating updates (paper Sec. 3.4, "two different optimizers"):

    1. **Knowledge step** (Eq. 9): `auxiliary_optimizer` (default the
       paper's SGD(0.1, momentum 0.9)) updates the aggregators alone on
       `KnowledgeRepresenting.helper_loss`.
    2. **Student step** (Eq. 10): `optimizer` updates the student on
       `w_s * CE + mu * prior + sum_i w_i * posterior_i`, the prior matched
       to the knowledge of the updated aggregators, its gradient recoded by
       SRP (`sparse=False`: KR-Dense; `recode="weights"`: SRP on the
       gradient the prior sends to each student kernel instead).

    With `mu=0` the prior term contributes nothing, so the student trains
    exactly as the same distiller without KR: the student alone, or its
    posterior's method (KD for `posterior=kr_keras.losses.KD()` with KD's
    weights). That is the control of every KR comparison.

    `call` returns the student's logits; `distiller.student` is the trained
    student. Metrics: `loss`, `student_loss` (CE), `distillation_loss`
    (`mu * prior + posterior terms`), `auxiliary_loss` (the helpers' own
    objectives: Eq. 9, and a KDGAN discriminator's), `knowledge_loss`,
    `prior_loss`, SRP's `tau`, `inactive_fraction`, `srp_cosine` and
    `srp_norm_ratio`, and the compiled metrics.

    Args:
        teacher: A trained, built functional `keras.Model` returning logits.
        student: A built functional `keras.Model` returning logits.
        mu: Weight of the prior (SRP) term in Eq. 10.
        posterior: `None`, a `keras.distillation.DistillationLoss` on the
            logits (e.g. `kr_keras.losses.KD()`) or a list of them.
        distillation_loss_weights: Weight(s) of the posterior term(s);
            default 1.0 each.
        student_loss_weight: Weight of the cross-entropy term.
        sparse: `False` replaces SRP by the identity (KR-Dense).
        name: Model name.
        **kr_arguments: `kr_keras.losses.KnowledgeRepresenting`'s arguments
            (`teacher_layers`, `student_layers`, `group_size`, `gamma`,
            `boost`, `floor`, `target_inactive`, `threshold_rate`,
            `aggregation_momentum`, `prior_warmup_steps`,
            `feature_normalization`, `refresh_knowledge`, `recode`).

    Example:

    ```python
    teacher = kr_keras.models.cifar_resnet(20, input_shape=(28, 28, 1))
    student = kr_keras.models.cifar_resnet(
        8, width_multiplier=0.75, input_shape=(28, 28, 1))
    # ... train the teacher with compile/fit ...
    distiller = kr_keras.KRDistiller(teacher, student, group_size=3)
    distiller.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                      auxiliary_optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                      metrics=["accuracy"])
    distiller.fit(train_ds, validation_data=test_ds, epochs=10)
    distiller.student.save("student.keras")
    ```
    """

    def __init__(self, teacher, student, mu=0.1, posterior=None,
                 distillation_loss_weights=None, student_loss_weight=1.0, sparse=True,
                 name="kr_distiller", **kwargs):
        # Keras' own keyword arguments (a config's `trainable`, `dtype`) go to the model.
        model_arguments = {k: kwargs.pop(k) for k in ("trainable", "dtype") if k in kwargs}
        kr_arguments = kwargs
        unknown = sorted(set(kr_arguments) - set(KR_ARGUMENTS))
        if unknown:
            raise ValueError(f"KRDistiller does not take {unknown}; it takes mu, posterior, "
                             "distillation_loss_weights, student_loss_weight, sparse, name and "
                             f"{list(KR_ARGUMENTS)}. Received: {unknown}")
        if mu < 0:
            raise ValueError(f"`mu` must be >= 0. Received: mu={mu}")
        posterior = ([] if posterior is None else list(posterior)
                     if isinstance(posterior, (list, tuple)) else [posterior])
        for loss in posterior:
            if not isinstance(loss, keras.distillation.DistillationLoss) or any(
                    getattr(loss, f"{r}_layer_name", None) is not None
                    for r in ("teacher", "student")):
                raise ValueError(
                    "`posterior` takes keras.distillation.DistillationLosses on the logits "
                    "(e.g. kr_keras.losses.KD()), or a list of them; feature losses go in "
                    f"kr_keras.distillers.Distiller. Received: posterior={posterior!r}")
        weights = ([1.0] * len(posterior) if distillation_loss_weights is None
                   else [float(w) for w in keras.tree.flatten(distillation_loss_weights)])
        if len(weights) != len(posterior):
            raise ValueError("`distillation_loss_weights` needs one weight per posterior term. "
                             f"Received: {len(weights)} weights for {len(posterior)} terms")
        kr = KnowledgeRepresenting(sparse=sparse, name="knowledge_representing", **kr_arguments)
        super().__init__(teacher, student, [kr, *posterior], [float(mu), *weights],
                         student_loss_weight, name=name, **model_arguments)
        self.kr, self.mu, self.posterior = kr, float(mu), posterior

    def get_config(self):
        config = {k: v for k, v in super().get_config().items()
                  if k not in ("distillation_losses", "stages")}
        config.update({k: v for k, v in self.kr.get_config().items() if k in KR_ARGUMENTS})
        return {**config, "mu": self.mu,
                "sparse": self.kr.sparse,
                "posterior": [keras.saving.serialize_keras_object(p) for p in self.posterior],
                "distillation_loss_weights": self.distillation_loss_weights[1:]}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("teacher", "student", "posterior"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
