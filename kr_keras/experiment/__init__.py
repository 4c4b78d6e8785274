"""Experiment wiring shared by the `experiments/` binaries.

Configs and presets are dataclasses (`config`), schedules are data
(`schedules`), and the training loops (`training`), checkpointing
(`checkpoint`), the NaN guard (`guard`), evaluation (`evaluation`),
tuning (`tuning`), paper tables (`tables`) and figures (`figures`) live
here so the binaries only hold flags.
"""

from kr_keras.experiment.checkpoint import TrainingCheckpoint
from kr_keras.experiment.config import PRESETS, DistillConfig, TeacherConfig, preset
from kr_keras.experiment.guard import NonFiniteGuard, NonFiniteLossError
from kr_keras.experiment.schedules import Schedule, StaircasePolynomialDecay
from kr_keras.experiment.training import distill, fit_resumable, train_teacher

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
