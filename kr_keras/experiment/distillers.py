"""Building and compiling any registered distiller without naming methods.

Two things differ between distillers and are found here by introspection,
never by method name (one registry, no `if method == ...` chains):

* which hyper-parameters a method takes (KR's `mu`, `group_size`, ... mean
  nothing to `"ce"`): `build(method, teacher, student, hparams)` passes the
  ones `registry.hyperparameters(method)` lists;
* whether the distiller has trainable helpers with their own optimizer:
  `has_auxiliary_optimizer(distiller)` reads `compile`'s signature.
"""

import inspect
import logging

from kr_keras.distillers import registry

def has_auxiliary_optimizer(distiller):
    """Whether `distiller.compile` takes `auxiliary_optimizer=`.

    Distillers with trainable helpers (KR aggregators, FitNet regressors, a
    KDGAN discriminator) accept it (`registry.build_distiller`'s contract);
    `StudentAlone` does not.
    """
    parameters = inspect.signature(distiller.compile).parameters
    return "auxiliary_optimizer" in parameters


def compile_distiller(distiller, optimizer, auxiliary_optimizer, metrics=("accuracy",),
                      **kwargs):
    """`distiller.compile(optimizer=..., auxiliary_optimizer=..., metrics=...)`,
    passing `auxiliary_optimizer` only to distillers that take it.

    Returns:
        `True` when the auxiliary optimizer was used.
    """
    extra = {}
    used = has_auxiliary_optimizer(distiller)
    if used:
        extra["auxiliary_optimizer"] = auxiliary_optimizer
    distiller.compile(optimizer=optimizer, metrics=list(metrics), **extra, **kwargs)
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
    _reject(method, sorted(set(hparams) - set(used)), explicit)
    return registry.build_distiller(method, teacher, student, **used), used


def _reject(method, rejected, explicit):
    bad = [k for k in rejected if k in explicit]
    if bad:
        raise ValueError(
            f"Method {method!r} does not take {bad}; drop "
            f"{' '.join('--' + k for k in bad)}. Received: method={method!r}"
        )
    if rejected:
        logging.info("Method %r ignores hyper-parameters %s.", method, rejected)
