"""The registry's entries: every method by name, its losses and defaults
(docs/methods.md, "Adding a method")."""

from kr_keras.distillers.kr_distiller import KRDistiller
from kr_keras.distillers.registry import register
from kr_keras.distillers.registry import register_losses
from kr_keras.losses import ab, at, cc, crd, dkd, fitnet, fsp, ft, kd, kdgan, kr, nst, pkt, rkd, sp, vid
from kr_keras.models.tap import inline_nested

register_losses("ce", lambda teacher, student: ([], []), {})
for _name, _module in [("kd", kd), ("at", at), ("nst", nst), ("fitnet", fitnet), ("fsp", fsp),
                       ("kdgan", kdgan), ("sp", sp), ("cc", cc), ("vid", vid), ("rkd", rkd),
                       ("pkt", pkt), ("ab", ab), ("ft", ft), ("crd", crd), ("dkd", dkd)]:
    register_losses(_name, _module.build_losses, _module.DEFAULTS,
                    stages=getattr(_module, "stages", None))

# The KR family keeps its posterior's weights (`kd.DEFAULTS`), so at mu = 0 `kr+kd`
# is `kd` and `kr` is `ce` (docs/method.md, "Controls by construction").
KR_HYPERPARAMETERS = ("mu", "student_loss_weight", *kr.DEFAULTS)


def _kr(name, sparse, posterior_defaults, build_posterior, recode="residual"):
    def build(teacher, student, mu=0.1, **hparams):
        hparams = {**posterior_defaults, "recode": recode, **hparams}
        posterior_args = {k: hparams.pop(k) for k in list(hparams)
                          if k in posterior_defaults and k != "student_loss_weight"}
        posterior, weights = build_posterior(inline_nested(teacher), inline_nested(student),
                                             **posterior_args)
        return KRDistiller(teacher, student, mu=mu, posterior=posterior,
                           distillation_loss_weights=weights, sparse=sparse,
                           name=f"{name.replace('+', '_')}_distiller", **hparams)
    register(name, build, (*KR_HYPERPARAMETERS, *posterior_defaults))


_NO_POSTERIOR = {"student_loss_weight": 1.0}
_kr("kr", True, _NO_POSTERIOR, lambda teacher, student: ([], []))
_kr("kr_dense", False, _NO_POSTERIOR, lambda teacher, student: ([], []))
# SRP on the gradients of the student's kernels (docs/method.md, "SRP on the weights").
_kr("kr_weights", True, _NO_POSTERIOR, lambda teacher, student: ([], []), recode="weights")
_kr("kr+kd", True, kd.DEFAULTS, kd.build_losses)
_kr("kr+kdgan", True, kdgan.DEFAULTS, kdgan.build_losses)
