"""One registry mapping method names to distiller builders (STYLE.md §3).

Binaries use `flags.DEFINE_enum("method", ..., names())`; nothing else
branches on method names.
"""

_BUILDERS = {}


def register(name):
    """Decorator: registers `builder(teacher, student, **hparams) -> Model`.

    Example:

    ```python
    @register("kd")
    def build_kd(teacher, student, temperature=4.0, **hparams):
        return KDDistiller(teacher, student, temperature=temperature, **hparams)
    ```
    """

    def decorator(builder):
        if name in _BUILDERS:
            raise ValueError(f"Method {name!r} is already registered.")
        _BUILDERS[name] = builder
        return builder

    return decorator


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
