"""Distillation losses, one module per method."""

from kr_keras.losses.kd import KD
from kr_keras.losses.kd import kd_loss

__all__ = ["KD", "kd_loss"]
from kr_keras.losses.at import AttentionTransfer  # noqa: E402
from kr_keras.losses.at import at_loss  # noqa: E402
from kr_keras.losses.at import attention_map  # noqa: E402
from kr_keras.losses.fitnet import FitNetDistillation  # noqa: E402
from kr_keras.losses.fitnet import fitnet_loss  # noqa: E402
from kr_keras.losses.fsp import fsp_loss  # noqa: E402
from kr_keras.losses.fsp import fsp_matrix  # noqa: E402
from kr_keras.losses.kdgan import adversarial_loss  # noqa: E402
from kr_keras.losses.kdgan import discriminator_loss  # noqa: E402
from kr_keras.losses.nst import NeuronSelectivityTransfer  # noqa: E402
from kr_keras.losses.nst import nst_loss  # noqa: E402

__all__ += [
    "AttentionTransfer",
    "FitNetDistillation",
    "NeuronSelectivityTransfer",
    "adversarial_loss",
    "at_loss",
    "attention_map",
    "discriminator_loss",
    "fitnet_loss",
    "fsp_loss",
    "fsp_matrix",
    "nst_loss",
]
