"""Building and compiling any registered distiller without naming methods.

Two things differ between distillers and are found here by introspection,
never by method name (STYLE.md §3):

* which hyper-parameters a builder takes (KR's `mu`, `group_size`, ... mean
  nothing to `"ce"`): `build(method, teacher, student, hparams)` passes the
  ones the builder accepts;
* whether the distiller has trainable helpers with their own optimizer:
  `has_auxiliary_optimizer(distiller)` reads `compile`'s signature.
"""

import inspect
import logging

from kr_keras.distillers import registry

_UNKNOWN_KWARG_HINTS = ("unexpected keyword", "Unrecognized keyword", "not understood")


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


def _explicit_parameters(builder):
    parameters = inspect.signature(builder).parameters.values()
    names = {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    takes_kwargs = any(p.kind == p.VAR_KEYWORD for p in parameters)
    return names, takes_kwargs


def build(method, teacher, student, hparams, explicit=()):
    """`registry.build_distiller(method, teacher, student, **accepted)`.

    Hyper-parameters the builder names are passed. When it forwards
    `**hparams` to a distiller, all are tried first; a distiller that rejects
    an unknown keyword is rebuilt without the rejected ones (logged, and an
    error when the user set that one explicitly).

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
    builder = registry._BUILDERS[method]  # noqa: SLF001 (same package)
    hparams = {k: v for k, v in hparams.items() if v is not None}
    names, takes_kwargs = _explicit_parameters(builder)
    if takes_kwargs:
        used = dict(hparams)
        while True:
            try:
                return registry.build_distiller(method, teacher, student, **used), used
            except (TypeError, ValueError) as error:
                message = str(error)
                rejected = [k for k in used if k not in names and f"'{k}'" in message
                            and any(h in message for h in _UNKNOWN_KWARG_HINTS)]
                if not rejected:
                    raise
                _reject(method, rejected, explicit)
                used = {k: v for k, v in used.items() if k not in rejected}
    used = {k: v for k, v in hparams.items() if k in names}
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
