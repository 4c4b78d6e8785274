"""The registry mapping method names to distiller builders, each with its
declared hyper-parameters; `kr_keras.distillers.methods` holds the entries."""

from kr_keras.distillers.distiller import Distiller
from kr_keras.models.tap import inline_nested
from kr_keras.models.tap import require_graph

_BUILDERS = {}
_HYPERPARAMETERS = {}


def register(name, build, hyperparameters):
    """Registers `build(teacher, student, **hparams) -> keras.Model`.

    Args:
        name: The method's name.
        build: The builder.
        hyperparameters: The names of the keyword arguments `build` takes;
            `build_distiller` rejects any other.
    """
    if name in _BUILDERS:
        raise ValueError(f"Method {name!r} is already registered.")
    _BUILDERS[name] = build
    _HYPERPARAMETERS[name] = frozenset(hyperparameters)


def register_losses(name, build_losses, defaults, stages=None):
    """Registers a method of the generic `Distiller`.

    Args:
        name: The method's name.
        build_losses: `build_losses(teacher, student, **hparams) ->
            (losses, weights)`, called with every key of `defaults` but
            `student_loss_weight`.
        defaults: Dict of the method's hyper-parameters and their defaults;
            `student_loss_weight`, if present, is the `Distiller`'s (default 1.0).
        stages: Optional `stages(n_losses=..., **hparams) -> list` of the
            `Distiller`'s stage dicts.
    """

    def build(teacher, student, **hparams):
        hparams = {**defaults, **hparams}
        student_loss_weight = hparams.pop("student_loss_weight", 1.0)
        losses, weights = build_losses(inline_nested(teacher), inline_nested(student), **hparams)
        return Distiller(
            teacher, student, losses, weights, student_loss_weight,
            stages=stages(n_losses=len(losses), **hparams) if stages else None,
            name=f"{name.replace('+', '_')}_distiller")

    register(name, build, defaults)


def _check(method):
    if method not in _BUILDERS:
        raise ValueError(f"Unknown distillation method {method!r}. Known methods: {names()}")


def hyperparameters(method):
    """The keyword hyper-parameters `build_distiller(method, ...)` accepts."""
    _check(method)
    return set(_HYPERPARAMETERS[method])


def names():
    """The registered method names, sorted."""
    return sorted(_BUILDERS)


def build_distiller(method, teacher, student, **hparams):
    """Builds the `Distiller` of `method` for `teacher` → `student` (docs/methods.md).

    Args:
        method: A name from `names()`, e.g. `"kr"`, `"kd"`, `"ce"`.
        teacher: Trained `keras.Model` returning logits: functional (or
            Sequential), or subclassed for the methods on the logits alone.
        student: `keras.Model` returning logits (the same rule).
        **hparams: Method hyper-parameters (`hyperparameters(method)`).

    Raises:
        ValueError: for an unknown method or a hyper-parameter it does not declare.
    """
    _check(method)
    unknown = sorted(set(hparams) - _HYPERPARAMETERS[method])
    if unknown:
        raise ValueError(
            f"Method {method!r} does not take {unknown}; it takes "
            f"{sorted(_HYPERPARAMETERS[method])}. Received: {unknown}")
    if "teacher_layers" in _HYPERPARAMETERS[method]:  # a method that taps layers
        for role, model in (("teacher", teacher), ("student", student)):
            require_graph(model, role, f"Method {method!r}")
    return _BUILDERS[method](teacher, student, **hparams)
