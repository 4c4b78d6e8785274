"""`KRDistiller`: Knowledge Representing as a `Distiller` of its losses.

Reference: Liu et al., "Knowledge Representing: Efficient, Sparse Representation
of Prior Knowledge for Knowledge Distillation" (Sec. 3). The reading: docs/method.md.
"""

import keras

from kr_keras.distillers.distiller import Distiller
from kr_keras.losses.kr import DEFAULTS
from kr_keras.losses.kr import KnowledgeRepresenting

# The KnowledgeRepresenting arguments KRDistiller passes through.
KR_ARGUMENTS = tuple(DEFAULTS)


@keras.saving.register_keras_serializable(package="kr_keras")
class KRDistiller(Distiller):
    """Knowledge Representing distiller: a `Distiller` of
    `[KnowledgeRepresenting, *posterior]` weighted `[mu, *weights]`.

    Per batch the aggregators step on Eq. 9 (`auxiliary_optimizer`), then the
    student on Eq. 10 (`optimizer`): docs/method.md. Metrics: `Distiller`'s,
    `knowledge_loss`, `prior_loss`, SRP's `tau`, `inactive_fraction`,
    `srp_cosine` and `srp_norm_ratio`.

    Args:
        teacher: A trained, built functional `keras.Model` returning logits.
        student: A built functional `keras.Model` returning logits.
        mu: Weight of the prior (SRP) term in Eq. 10; `0` trains the student
            exactly as without KR (the control).
        posterior: `None`, a `keras.distillation.DistillationLoss` on the
            logits (e.g. `kr_keras.losses.KD()`) or a list of them.
        distillation_loss_weights: The posterior terms' weights; default 1.0 each.
        student_loss_weight: Weight of the cross-entropy term.
        sparse: `False` replaces SRP by the identity (KR-Dense).
        name: Model name.
        **kr_arguments: `kr_keras.losses.KnowledgeRepresenting`'s arguments,
            those of `KR_ARGUMENTS` (`teacher_layers`, `group_size`, `recode`, ...).

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
