"""Distillation losses, one module per method (docs/methods.md, "Design")."""

from kr_keras.losses.ab import ActivationBoundaries
from kr_keras.losses.ab import ab_loss
from kr_keras.losses.at import AttentionTransfer
from kr_keras.losses.at import at_loss
from kr_keras.losses.at import attention_map
from kr_keras.losses.cc import CorrelationCongruence
from kr_keras.losses.cc import cc_loss
from kr_keras.losses.crd import ContrastiveRepresentationDistillation
from kr_keras.losses.crd import contrast_loss
from kr_keras.losses.crd import nce_scores
from kr_keras.losses.dkd import DecoupledKnowledgeDistillation
from kr_keras.losses.dkd import dkd_loss
from kr_keras.losses.fitnet import FitNetDistillation
from kr_keras.losses.fitnet import fitnet_loss
from kr_keras.losses.fsp import FSPDistillation
from kr_keras.losses.fsp import fsp_loss
from kr_keras.losses.fsp import fsp_matrix
from kr_keras.losses.ft import FactorTransfer
from kr_keras.losses.ft import ft_loss
from kr_keras.losses.kd import KD
from kr_keras.losses.kd import kd_loss
from kr_keras.losses.kdgan import KDGANDistillation
from kr_keras.losses.kdgan import adversarial_loss
from kr_keras.losses.kdgan import discriminator_loss
from kr_keras.losses.kr import KnowledgeRepresenting
from kr_keras.losses.nst import NeuronSelectivityTransfer
from kr_keras.losses.nst import nst_loss
from kr_keras.losses.pkt import ProbabilisticKnowledgeTransfer
from kr_keras.losses.pkt import pkt_loss
from kr_keras.losses.rkd import RelationalKnowledgeDistillation
from kr_keras.losses.rkd import rkd_loss
from kr_keras.losses.sp import SimilarityPreserving
from kr_keras.losses.sp import sp_loss
from kr_keras.losses.vid import VariationalInformationDistillation
from kr_keras.losses.vid import vid_loss

__all__ = [
    "ActivationBoundaries",
    "AttentionTransfer",
    "ContrastiveRepresentationDistillation",
    "CorrelationCongruence",
    "DecoupledKnowledgeDistillation",
    "FSPDistillation",
    "FactorTransfer",
    "FitNetDistillation",
    "KD",
    "KDGANDistillation",
    "KnowledgeRepresenting",
    "NeuronSelectivityTransfer",
    "ProbabilisticKnowledgeTransfer",
    "RelationalKnowledgeDistillation",
    "SimilarityPreserving",
    "VariationalInformationDistillation",
    "ab_loss",
    "adversarial_loss",
    "at_loss",
    "attention_map",
    "cc_loss",
    "contrast_loss",
    "discriminator_loss",
    "dkd_loss",
    "fitnet_loss",
    "fsp_loss",
    "fsp_matrix",
    "ft_loss",
    "kd_loss",
    "nce_scores",
    "nst_loss",
    "pkt_loss",
    "rkd_loss",
    "sp_loss",
    "vid_loss",
]
