"""Experiment configurations and presets, as dataclasses (data, not code).

`DistillConfig` is everything `experiments.lib.distill` needs; `PRESETS`
are the recipes of docs/experiments.md, "distill" (`--preset`).
"""

import dataclasses
import json
from typing import Optional

from experiments.lib.schedules import Schedule


# Fields that do not change the weights' trajectory (Precise BN re-estimates
# statistics the train step never reads).
RUN_ONLY_FIELDS = ("log_dir", "checkpoint_dir", "save_every_steps", "output", "check_numerics",
                   "strategy", "precise_bn_samples")


def fingerprint(config):
    """The fields of a config dataclass that decide the training trajectory,
    as JSON (a checkpoint of another configuration must not be resumed)."""
    keep = {k: v for k, v in dataclasses.asdict(config).items() if k not in RUN_ONLY_FIELDS}
    return json.dumps(keep, sort_keys=True, default=str)


@dataclasses.dataclass(frozen=True)
class DistillConfig:
    """One distillation run.

    Args:
        method: A registry name (`kr_keras.distillers.names()`).
        dataset: A `kr_keras.data` dataset name.
        teacher: Path of the trained teacher (`.keras`).
        student_arch: Student family, a key of
            `experiments.lib.taps.ARCHITECTURES` (`"cifar_resnet"`,
            `"imagenet_resnet"`): its builder and its KR tap rule.
        student_depth: Depth of the student (6n+2 for CIFAR ResNets; 18, 34
            or 50 for ImageNet ResNets).
        student_width: Width multiplier of the student.
        epochs: Training epochs.
        steps: Total training steps; overrides `epochs` when set.
        steps_per_epoch: Steps per epoch; `None`: one pass over the
            (possibly subset) training split.
        batch_size: Global batch size.
        seed: Seed of weights, data order and augmentation.
        precise_bn_samples: Training images to re-estimate the student's
            batch-norm statistics on before every validation and the test
            evaluation (`kr_keras.callbacks.PreciseBatchNorm`); 0: off.
        train_take: Use only the first N training images (small budgets).
        eval_take: Evaluate on the first N test images.
        student_lr: Student optimizer schedule (Eq. 10 / the only optimizer).
        knowledge_lr: Schedule of KR's aggregators (Eq. 9) only; other
            distillers' helpers keep their default or copy the student's.
        weight_decay: Decoupled weight decay of both SGD optimizers.
        momentum: SGD momentum of both optimizers.
        hparams: Method hyper-parameters (KR: `mu`, `gamma`, `group_size`,
            `boost`, `floor`, `target_inactive`, tap names); builders that
            do not take one of them are built without it.
        strategy: `"default"`, `"mirrored"` or `"multi_worker"`.
        mixed_precision: Use the `mixed_float16` policy.
        jit_compile: XLA-compile the train step.
        deterministic: Seed everything and enable TF op determinism.
        check_numerics: Fail on NaN/Inf input images.
        log_dir: TensorBoard and CSV logs; `None` for none.
        checkpoint_dir: Resumable checkpoints; `None` for none.
        save_every_steps: Checkpoint period in steps (and every epoch end).
        output: Where the trained student `.keras` is written.
    """

    method: str = "kr"
    dataset: str = "fashion_mnist"
    teacher: str = ""
    student_arch: str = "cifar_resnet"
    student_depth: int = 8
    student_width: float = 0.75
    epochs: int = 1
    steps: Optional[int] = None
    steps_per_epoch: Optional[int] = None
    batch_size: int = 128
    seed: int = 0
    precise_bn_samples: int = 2048
    train_take: Optional[int] = None
    eval_take: Optional[int] = None
    student_lr: Schedule = Schedule(0.01)
    knowledge_lr: Schedule = Schedule(0.1)
    weight_decay: float = 1e-5
    momentum: float = 0.9
    hparams: dict = dataclasses.field(default_factory=dict)
    strategy: str = "default"
    mixed_precision: bool = False
    jit_compile: bool = False
    deterministic: bool = False
    check_numerics: bool = False
    log_dir: Optional[str] = None
    checkpoint_dir: Optional[str] = None
    save_every_steps: int = 500
    output: str = "saved_models/student.keras"

    def with_overrides(self, **overrides):
        """A copy with every override that is not `None` applied.

        `hparams` entries are merged (not replaced); `student_lr` and
        `knowledge_lr` given as numbers replace only the initial rate.
        """
        values = {k: v for k, v in overrides.items() if v is not None}
        unknown = set(values) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(
                f"Unknown DistillConfig fields {sorted(unknown)}. "
                f"Received: {sorted(values)}"
            )
        if "hparams" in values:
            values["hparams"] = {
                **self.hparams,
                **{k: v for k, v in values["hparams"].items() if v is not None},
            }
        for name in ("student_lr", "knowledge_lr"):
            if name in values and not isinstance(values[name], Schedule):
                values[name] = getattr(self, name).with_initial(values[name])
        return dataclasses.replace(self, **values)


_PAPER_STEP = dict(boundaries=(30_000, 48_000), factors=(0.1, 0.01))
# The same decay at 50% and 75% of a run of any length (small budgets).
_FRACTION_STEP = dict(boundary_fractions=(0.5, 0.75), factors=(0.1, 0.01))

PRESETS = {
    # Paper Sec. 4.3 and 4.2.1 (k = 3); the 64k total steps are ours.
    "cifar": DistillConfig(
        dataset="cifar10",
        student_depth=8,
        student_width=0.75,
        steps=64_000,
        batch_size=128,
        student_lr=Schedule(0.01, "step", **_PAPER_STEP),
        knowledge_lr=Schedule(0.1, "step", **_PAPER_STEP),
        weight_decay=1e-5,
        momentum=0.9,
        hparams={"group_size": 3},
    ),
    # Paper Sec. 4.3 and 4.2.3 (k = 4); the 90 epochs are ours.
    "imagenet": DistillConfig(
        dataset="imagenet2012",
        student_arch="imagenet_resnet",
        student_depth=18,
        student_width=1.0,
        epochs=90,
        batch_size=256,
        student_lr=Schedule(0.005, "poly", decay_epochs=6),
        knowledge_lr=Schedule(0.1, "poly", decay_epochs=6),
        weight_decay=1e-5,
        momentum=0.9,
        hparams={"group_size": 4},
    ),
    # A laptop budget; why mu 0.1 and student lr 0.05: docs/experiments.md.
    "fashion_mnist": DistillConfig(
        dataset="fashion_mnist",
        student_depth=8,
        student_width=0.75,
        epochs=3,
        batch_size=128,
        train_take=12_000,
        eval_take=2_000,
        student_lr=Schedule(0.05, "step", **_FRACTION_STEP),
        knowledge_lr=Schedule(0.1, "step", **_FRACTION_STEP),
        weight_decay=1e-5,
        momentum=0.9,
    ),
}


def preset(name):
    """Returns the preset `name` (a `DistillConfig`).

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    if name not in PRESETS:
        raise ValueError(
            f"Unknown preset. Known presets: {sorted(PRESETS)}. Received: preset={name!r}"
        )
    return PRESETS[name]


@dataclasses.dataclass(frozen=True)
class TeacherConfig:
    """Training of a CIFAR ResNet teacher with SGD + momentum.

    Args:
        dataset: A `kr_keras.data` dataset name.
        arch: Family, a key of `experiments.lib.taps.ARCHITECTURES`.
        depth: ResNet depth (6n+2 CIFAR; 18/34/50 ImageNet).
        width_multiplier: Width multiplier.
        epochs: Training epochs.
        steps_per_epoch: `None`: one pass over the (subset) training split.
        batch_size: Batch size.
        lr: Initial learning rate.
        lr_schedule: `"constant"`, `"step"` (x0.1 at 50% and 75%) or `"cosine"`.
        momentum: SGD momentum.
        weight_decay: Decoupled weight decay.
        seed: Seed.
        precise_bn_samples: As `DistillConfig.precise_bn_samples`.
        train_take: Use the first N training images.
        eval_take: Evaluate on the first N test images.
        deterministic: TF op determinism.
        check_numerics: Fail on NaN/Inf images.
        log_dir: TensorBoard/CSV logs.
        checkpoint_dir: Resumable checkpoints.
        save_every_steps: Checkpoint period.
        output: The teacher `.keras` path.
    """

    dataset: str = "fashion_mnist"
    arch: str = "cifar_resnet"
    depth: int = 20
    width_multiplier: float = 1.0
    epochs: int = 10
    steps_per_epoch: Optional[int] = None
    batch_size: int = 128
    lr: float = 0.1
    lr_schedule: str = "cosine"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    seed: int = 0
    precise_bn_samples: int = 2048
    train_take: Optional[int] = None
    eval_take: Optional[int] = None
    deterministic: bool = False
    check_numerics: bool = False
    log_dir: Optional[str] = None
    checkpoint_dir: Optional[str] = None
    save_every_steps: int = 500
    output: str = "saved_models/teacher.keras"

    def schedule(self):
        """The `Schedule` of `lr` and `lr_schedule`."""
        if self.lr_schedule == "step":
            return Schedule(self.lr, "step", **_FRACTION_STEP)
        return Schedule(self.lr, self.lr_schedule)
