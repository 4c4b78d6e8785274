"""The registry's entries: every method by name, its losses and defaults.

Methods of the generic `Distiller` are one line each: the method module's
`build_losses` and `DEFAULTS` (and `stages`, where it has a stage before
the main fit). The KR family builds `KRDistiller`s, whose posterior terms
are the same `DistillationLoss`es.
"""

from kr_keras.distillers.kr_distiller import KRDistiller
from kr_keras.distillers.registry import register
from kr_keras.distillers.registry import register_losses
from kr_keras.losses import at
from kr_keras.losses import fitnet
from kr_keras.losses import fsp
from kr_keras.losses import kd
from kr_keras.losses import kdgan
from kr_keras.losses import nst


def _no_losses(teacher, student):
    return [], []


register_losses("ce", _no_losses, {})
register_losses("kd", kd.build_losses, kd.DEFAULTS)
register_losses("at", at.build_losses, at.DEFAULTS)
register_losses("nst", nst.build_losses, nst.DEFAULTS)
register_losses("fitnet", fitnet.build_losses, fitnet.DEFAULTS)
register_losses("fsp", fsp.build_losses, fsp.DEFAULTS, stages=fsp.stages)
register_losses("kdgan", kdgan.build_losses, kdgan.DEFAULTS)

# Every KRDistiller argument but the two models and the name.
KR_HYPERPARAMETERS = (
    "teacher_layers", "student_layers", "group_size", "mu", "gamma", "sparse", "boost",
    "floor", "target_inactive", "posterior", "distillation_loss_weights",
    "student_loss_weight", "aggregation_momentum", "prior_warmup_steps",
    "feature_normalization",
)


def _kr(sparse):
    def build(teacher, student, **hparams):
        return KRDistiller(teacher, student, sparse=sparse, **hparams)
    return build


register("kr", _kr(True), set(KR_HYPERPARAMETERS) - {"sparse"})
register("kr_dense", _kr(False), set(KR_HYPERPARAMETERS) - {"sparse"})


def build_kr_kd(teacher, student, temperature=4.0, **hparams):
    """"kr+kd": KR's prior term plus Hinton KD as the posterior term."""
    return KRDistiller(teacher, student, posterior=kd.KD(temperature), **hparams)


register("kr+kd", build_kr_kd, {"temperature", *KR_HYPERPARAMETERS} - {"posterior"})
