"""Distillation losses, one module per method.

Each method module holds its pure loss function, its
`keras.distillation.DistillationLoss`, its paper, its `DEFAULTS` (the
reference scripts' hyper-parameters) and `build_losses(teacher, student,
**hparams) -> (losses, weights)`, which `kr_keras.distillers.methods`
registers by name.
"""

from kr_keras.losses.at import AttentionTransfer
from kr_keras.losses.at import at_loss
from kr_keras.losses.at import attention_map
from kr_keras.losses.fitnet import FitNetDistillation
from kr_keras.losses.fitnet import fitnet_loss
from kr_keras.losses.fsp import FSPDistillation
from kr_keras.losses.fsp import fsp_loss
from kr_keras.losses.fsp import fsp_matrix
from kr_keras.losses.kd import KD
from kr_keras.losses.kd import kd_loss
from kr_keras.losses.kdgan import KDGANDistillation
from kr_keras.losses.kdgan import adversarial_loss
from kr_keras.losses.kdgan import discriminator_loss
from kr_keras.losses.nst import NeuronSelectivityTransfer
from kr_keras.losses.nst import nst_loss

__all__ = [
    "AttentionTransfer",
    "FSPDistillation",
    "FitNetDistillation",
    "KD",
    "KDGANDistillation",
    "NeuronSelectivityTransfer",
    "adversarial_loss",
    "at_loss",
    "attention_map",
    "discriminator_loss",
    "fitnet_loss",
    "fsp_loss",
    "fsp_matrix",
    "kd_loss",
    "nst_loss",
]
