"""Learning-rate schedules of the experiment presets, as frozen dataclasses
(data, as in tensorflow/models' configs)."""

import dataclasses

import keras
import tensorflow as tf

KINDS = ("constant", "step", "poly", "cosine")


@keras.saving.register_keras_serializable(package="kr_keras")
class StaircasePolynomialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Polynomial decay that changes only every `decay_steps` steps.

    `lr(step) = initial * (1 - floor(step / decay_steps) * decay_steps /
    total_steps) ** power`, floored at `end_learning_rate`. The paper's
    ImageNet recipe (Sec. 4.3): "a poly decreasing in each 6 epoch".

    Args:
        initial_learning_rate: Rate at step 0.
        decay_steps: Steps between two changes (6 epochs on ImageNet).
        total_steps: Step at which the rate reaches `end_learning_rate`.
        power: Polynomial power (1.0 = linear).
        end_learning_rate: Lowest rate.

    Example:

    >>> lr = StaircasePolynomialDecay(0.1, decay_steps=10, total_steps=100)
    >>> round(float(lr(15)), 6)   # 0.1 * (1 - 10 / 100)
    0.09
    """

    def __init__(self, initial_learning_rate, decay_steps, total_steps,
                 power=1.0, end_learning_rate=0.0):
        if decay_steps < 1 or total_steps < 1:
            raise ValueError(
                "`decay_steps` and `total_steps` must be >= 1. Received: "
                f"decay_steps={decay_steps}, total_steps={total_steps}"
            )
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = int(decay_steps)
        self.total_steps = int(total_steps)
        self.power = float(power)
        self.end_learning_rate = float(end_learning_rate)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        stair = tf.floor(step / self.decay_steps) * self.decay_steps
        fraction = tf.clip_by_value(1.0 - stair / self.total_steps, 0.0, 1.0)
        lr = self.initial_learning_rate * fraction**self.power
        return tf.maximum(lr, self.end_learning_rate)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "total_steps": self.total_steps,
            "power": self.power,
            "end_learning_rate": self.end_learning_rate,
        }


@dataclasses.dataclass(frozen=True)
class Schedule:
    """A learning-rate schedule as data.

    Args:
        initial: Rate at step 0.
        kind: `"constant"`, `"step"` (multiply by `factors[i]` after
            `boundaries[i]`), `"poly"` (`StaircasePolynomialDecay` changing
            every `decay_epochs` epochs) or `"cosine"`.
        boundaries: `"step"`: absolute step boundaries (the paper's CIFAR
            recipe: `(30000, 48000)`).
        boundary_fractions: `"step"`: boundaries as fractions of the total
            steps, used when `boundaries` is empty (small budgets).
        factors: `"step"`: the rate after each boundary is
            `initial * factors[i]`.
        decay_epochs: `"poly"`: epochs between two changes.
        power: `"poly"`: polynomial power.

    Example:

    >>> lr = Schedule(0.1, "step", boundaries=(30000, 48000),
    ...               factors=(0.1, 0.01)).build(total_steps=64000, steps_per_epoch=390)
    >>> [round(float(lr(step)), 6) for step in (0, 30001, 48001)]
    [0.1, 0.01, 0.001]
    """

    initial: float
    kind: str = "constant"
    boundaries: tuple = ()
    boundary_fractions: tuple = ()
    factors: tuple = ()
    decay_epochs: float = 0.0
    power: float = 1.0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(
                f"Unknown schedule kind; use one of {KINDS}. Received: kind={self.kind!r}"
            )
        if not self.initial > 0:
            raise ValueError(
                f"The learning rate must be > 0. Received: initial={self.initial}"
            )

    def build(self, total_steps, steps_per_epoch):
        """Returns a float or a `LearningRateSchedule` for the optimizer."""
        if self.kind == "constant":
            return float(self.initial)
        if self.kind == "cosine":
            return keras.optimizers.schedules.CosineDecay(
                self.initial, decay_steps=max(1, int(total_steps))
            )
        if self.kind == "poly":
            return StaircasePolynomialDecay(
                self.initial,
                decay_steps=max(1, int(round(self.decay_epochs * steps_per_epoch))),
                total_steps=max(1, int(total_steps)),
                power=self.power,
            )
        boundaries = list(self.boundaries) or [
            max(1, int(f * total_steps)) for f in self.boundary_fractions
        ]
        if len(boundaries) != len(self.factors):
            raise ValueError(
                "A step schedule needs one factor per boundary. Received: "
                f"boundaries={boundaries}, factors={self.factors}"
            )
        if not boundaries:
            return float(self.initial)
        values = [self.initial] + [self.initial * f for f in self.factors]
        return keras.optimizers.schedules.PiecewiseConstantDecay(
            [int(b) for b in boundaries], [float(v) for v in values]
        )

    def with_initial(self, initial):
        """A copy with another initial rate (a flag's override)."""
        return dataclasses.replace(self, initial=float(initial))
