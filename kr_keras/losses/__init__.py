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
from kr_keras.losses.ab import ActivationBoundaries  # noqa: E402
from kr_keras.losses.ab import ab_loss  # noqa: E402
from kr_keras.losses.cc import CorrelationCongruence  # noqa: E402
from kr_keras.losses.cc import cc_loss  # noqa: E402
from kr_keras.losses.crd import ContrastiveRepresentationDistillation  # noqa: E402
from kr_keras.losses.crd import contrast_loss  # noqa: E402
from kr_keras.losses.crd import nce_scores  # noqa: E402
from kr_keras.losses.dkd import DecoupledKnowledgeDistillation  # noqa: E402
from kr_keras.losses.dkd import dkd_loss  # noqa: E402
from kr_keras.losses.ft import FactorTransfer  # noqa: E402
from kr_keras.losses.ft import ft_loss  # noqa: E402
from kr_keras.losses.pkt import ProbabilisticKnowledgeTransfer  # noqa: E402
from kr_keras.losses.pkt import pkt_loss  # noqa: E402
from kr_keras.losses.rkd import RelationalKnowledgeDistillation  # noqa: E402
from kr_keras.losses.rkd import rkd_loss  # noqa: E402
from kr_keras.losses.sp import SimilarityPreserving  # noqa: E402
from kr_keras.losses.sp import sp_loss  # noqa: E402
from kr_keras.losses.vid import VariationalInformationDistillation  # noqa: E402
from kr_keras.losses.vid import vid_loss  # noqa: E402

__all__ += [
    "ActivationBoundaries",
    "ContrastiveRepresentationDistillation",
    "CorrelationCongruence",
    "DecoupledKnowledgeDistillation",
    "FactorTransfer",
    "ProbabilisticKnowledgeTransfer",
    "RelationalKnowledgeDistillation",
    "SimilarityPreserving",
    "VariationalInformationDistillation",
    "ab_loss",
    "cc_loss",
    "contrast_loss",
    "dkd_loss",
    "ft_loss",
    "nce_scores",
    "pkt_loss",
    "rkd_loss",
    "sp_loss",
    "vid_loss",
]
