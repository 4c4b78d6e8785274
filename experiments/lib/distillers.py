"""Building and compiling any registered distiller without naming methods:
`build` passes the hyper-parameters a method declares, `compile_distiller`
gives KR's aggregators (alone) the `knowledge_lr` optimizer.
"""

import logging

from kr_keras.distillers import registry
from kr_keras.losses.kr import KnowledgeRepresenting


def takes_knowledge_optimizer(distiller):
    """Whether `distiller` has KR's aggregators (Eq. 9's optimizer)."""
    return any(isinstance(l, KnowledgeRepresenting)
               for l in getattr(distiller, "distillation_losses", ()))


def compile_distiller(distiller, optimizer, knowledge_optimizer, **kwargs):
    """`distiller.compile(optimizer=..., metrics=["accuracy"])`, with
    `auxiliary_optimizer=knowledge_optimizer` where KR's aggregators are
    (other methods' helpers keep their default, docs/experiments.md).

    Returns:
        `True` when the knowledge optimizer was used.
    """
    used = takes_knowledge_optimizer(distiller)
    extra = {"auxiliary_optimizer": knowledge_optimizer} if used else {}
    distiller.compile(optimizer=optimizer, metrics=["accuracy"], **extra, **kwargs)
    return used


def build(method, teacher, student, hparams, explicit=()):
    """`registry.build_distiller(method, teacher, student, **accepted)`.

    Passes the hyper-parameters the method accepts
    (`registry.hyperparameters(method)`); the others are dropped (logged),
    or an error when the user set one explicitly.

    Args:
        method: Registry name.
        teacher: Teacher model.
        student: Student model.
        hparams: Dict of candidate hyper-parameters (`None` values dropped).
        explicit: Names the user set on the command line.

    Returns:
        `(distiller, used_hparams)`.
    """
    if method not in registry.names():
        raise ValueError(
            f"Unknown distillation method. Known methods: {registry.names()}. "
            f"Received: method={method!r}"
        )
    hparams = {k: v for k, v in hparams.items() if v is not None}
    accepted = registry.hyperparameters(method)
    used = {k: v for k, v in hparams.items() if k in accepted}
    rejected = sorted(set(hparams) - set(used))
    bad = [k for k in rejected if k in explicit]
    if bad:
        raise ValueError(
            f"Method {method!r} does not take {bad}; drop "
            f"{' '.join('--' + k for k in bad)}. Received: method={method!r}"
        )
    if rejected:
        logging.info("Method %r ignores hyper-parameters %s.", method, rejected)
    return registry.build_distiller(method, teacher, student, **used), used
