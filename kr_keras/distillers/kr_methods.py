"""Registry entries of the KR family: "kr", "kr_dense", "kr+kd"."""

from kr_keras.distillers.kr_distiller import KRDistiller
from kr_keras.distillers.registry import register
from kr_keras.losses.kd import KD


@register("kr", KRDistiller)
def build_kr(teacher, student, **hparams):
    """"kr": KR with the sparse recoding penalty (paper "Proposed")."""
    return KRDistiller(teacher, student, sparse=True, **hparams)


@register("kr_dense", KRDistiller)
def build_kr_dense(teacher, student, **hparams):
    """"kr_dense": KR without sparse recoding (paper "Proposed-Dense")."""
    return KRDistiller(teacher, student, sparse=False, **hparams)


@register("kr+kd", KRDistiller)
def build_kr_kd(teacher, student, temperature=4.0, **hparams):
    """"kr+kd": KR's prior term plus Hinton KD as the posterior term."""
    return KRDistiller(
        teacher, student, posterior=KD(temperature=temperature), **hparams
    )
