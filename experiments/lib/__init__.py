"""Experiment wiring shared by the `experiments/` binaries, which only hold flags."""

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
