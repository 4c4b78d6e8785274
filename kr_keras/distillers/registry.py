"""One registry mapping method names to distiller builders (STYLE.md §3).

Binaries use `flags.DEFINE_enum("method", ..., names())`; nothing else
branches on method names.
"""

import inspect

_BUILDERS = {}
_CLASSES = {}
# Arguments of every builder/distiller that are not hyper-parameters.
_NOT_HPARAMS = {"self", "teacher", "student", "name"}


def register(name, distiller_class=None):
    """Decorator: registers `builder(teacher, student, **hparams) -> Model`.

    Args:
        name: The method's name.
        distiller_class: The class the builder returns; when the builder
            forwards `**hparams`, the class's `__init__` arguments are the
            method's hyper-parameters (see `hyperparameters`).

    Example:

    ```python
    @register("kd", KDDistiller)
    def build_kd(teacher, student, temperature=4.0, **hparams):
        return KDDistiller(teacher, student, temperature=temperature, **hparams)
    ```
    """

    def decorator(builder):
        if name in _BUILDERS:
            raise ValueError(f"Method {name!r} is already registered.")
        _BUILDERS[name] = builder
        _CLASSES[name] = distiller_class
        return builder

    return decorator


def _named_parameters(function):
    parameters = inspect.signature(function).parameters.values()
    names = {p.name for p in parameters
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    forwards = any(p.kind == p.VAR_KEYWORD for p in parameters)
    return names - _NOT_HPARAMS, forwards


def hyperparameters(method):
    """The keyword hyper-parameters `build_distiller(method, ...)` accepts.

    The builder's own keyword arguments plus, when it forwards `**hparams`,
    those of the distiller class it was registered with. Binaries use this
    to pass each method only what it takes, without naming methods.
    """
    if method not in _BUILDERS:
        raise ValueError(
            f"Unknown distillation method {method!r}. Known methods: {names()}"
        )
    accepted, forwards = _named_parameters(_BUILDERS[method])
    distiller_class = _CLASSES[method]
    if not forwards or distiller_class is None:
        return accepted
    # Follow `**kwargs` up the class's own hierarchy (kr+kdgan forwards to
    # KRDistiller), stopping before Keras' classes.
    for cls in distiller_class.__mro__:
        if cls.__module__.startswith("keras"):
            break
        if "__init__" not in vars(cls):
            continue
        names_, forwards = _named_parameters(cls.__init__)
        accepted |= names_
        if not forwards:
            break
    return accepted


def names():
    """The registered method names, sorted."""
    return sorted(_BUILDERS)


def build_distiller(method, teacher, student, **hparams):
    """Builds the distiller of `method` for `teacher` → `student`.

    Every distiller is a `keras.Model` that `compile(optimizer=...,
    metrics=...)`s and `fit(...)`s like `kr_keras.KRDistiller`; those with
    trainable helpers (KR aggregators, FitNet regressors, a KDGAN
    discriminator) also take `auxiliary_optimizer=` and default it when it
    is omitted. `distiller.student` is the trained student.

    Args:
        method: A name from `names()`, e.g. `"kr"`, `"kd"`, `"ce"`.
        teacher: Trained functional `keras.Model` returning logits.
        student: Functional `keras.Model` returning logits.
        **hparams: Method hyper-parameters (see each builder's docstring).

    Raises:
        ValueError: for an unknown method, listing the known ones.
    """
    if method not in _BUILDERS:
        raise ValueError(
            f"Unknown distillation method {method!r}. Known methods: {names()}"
        )
    return _BUILDERS[method](teacher, student, **hparams)
