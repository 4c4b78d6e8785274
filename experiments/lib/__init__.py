"""Experiment wiring shared by the `experiments/` binaries.

Configs and presets are dataclasses (`config`), schedules are data
(`schedules`), and the training loops (`training`), checkpointing
(`checkpoint`), the NaN guard (`guard`), evaluation (`evaluation`),
tuning (`tuning`), paper tables (`tables`) and figures (`figures`) live
here so the binaries only hold flags.
"""

from experiments.lib.checkpoint import TrainingCheckpoint
from experiments.lib.config import PRESETS, DistillConfig, TeacherConfig, preset
from experiments.lib.guard import NonFiniteGuard, NonFiniteLossError
from experiments.lib.schedules import Schedule, StaircasePolynomialDecay
from experiments.lib.training import distill, fit_resumable, train_teacher

__all__ = [
    "DistillConfig",
    "NonFiniteGuard",
    "NonFiniteLossError",
    "PRESETS",
    "Schedule",
    "StaircasePolynomialDecay",
    "TeacherConfig",
    "TrainingCheckpoint",
    "distill",
    "fit_resumable",
    "preset",
    "train_teacher",
]
