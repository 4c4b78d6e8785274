"""The registry's entries: every method by name, its losses and defaults.

Methods of the generic `Distiller` are one line each: the method module's
`build_losses` and `DEFAULTS` (and `stages`, where it has a stage before
the main fit). The KR family builds `KRDistiller`s, whose posterior terms
are the same `DistillationLoss`es.
"""

import inspect

from kr_keras.distillers.kr_distiller import KRDistiller
from kr_keras.distillers.registry import register
from kr_keras.distillers.registry import register_losses
from kr_keras.losses import ab, at, cc, crd, dkd, fitnet, fsp, ft, kd, kdgan, nst, pkt, rkd, sp, vid

register_losses("ce", lambda teacher, student: ([], []), {})
for _name, _module in [("kd", kd), ("at", at), ("nst", nst), ("fitnet", fitnet), ("fsp", fsp),
                       ("kdgan", kdgan), ("sp", sp), ("cc", cc), ("vid", vid), ("rkd", rkd),
                       ("pkt", pkt), ("ab", ab), ("ft", ft), ("crd", crd), ("dkd", dkd)]:
    register_losses(_name, _module.build_losses, _module.DEFAULTS,
                    stages=getattr(_module, "stages", None))

# Every KRDistiller argument but the two models and the name (read from
# its signature, so a new argument cannot be left out).
KR_HYPERPARAMETERS = tuple(
    name for name, parameter in inspect.signature(KRDistiller.__init__).parameters.items()
    if name not in ("self", "teacher", "student", "name")
    and parameter.kind is parameter.POSITIONAL_OR_KEYWORD)
_KR = set(KR_HYPERPARAMETERS) - {"sparse"}
_KR_POSTERIOR = _KR - {"posterior", "distillation_loss_weights"}


def build_kr(teacher, student, **hparams):
    """"kr": KR with the sparse recoding penalty (paper "Proposed")."""
    return KRDistiller(teacher, student, sparse=True, name="kr_distiller", **hparams)


def build_kr_dense(teacher, student, **hparams):
    """"kr_dense": KR without sparse recoding (paper "Proposed-Dense")."""
    return KRDistiller(teacher, student, sparse=False, name="kr_dense_distiller", **hparams)


def build_kr_kd(teacher, student, temperature=4.0, **hparams):
    """"kr+kd": KR's prior term plus Hinton KD as the posterior term."""
    return KRDistiller(teacher, student, posterior=kd.KD(temperature),
                       name="kr_kd_distiller", **hparams)


def build_kr_kdgan(teacher, student, temperature=4.0, adversarial_weight=0.1,
                   discriminator_units=64, **hparams):
    """"kr+kdgan": KR's prior term plus KDGAN's posterior terms (KD weight 1)."""
    losses, weights = kdgan.build_losses(teacher, student, temperature, adversarial_weight,
                                         discriminator_units, distillation_loss_weight=1.0)
    return KRDistiller(teacher, student, posterior=losses, distillation_loss_weights=weights,
                       name="kr_kdgan_distiller", **hparams)


register("kr", build_kr, _KR)
register("kr_dense", build_kr_dense, _KR)
register("kr+kd", build_kr_kd, _KR_POSTERIOR | {"temperature"})
register("kr+kdgan", build_kr_kdgan,
         _KR_POSTERIOR | {"temperature", "adversarial_weight", "discriminator_units"})
