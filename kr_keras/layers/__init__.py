"""Custom Keras layers of kr_keras."""

from kr_keras.layers.hint_regressor import HintRegressor
from kr_keras.layers.identity_mapping import IdentityMapping
from kr_keras.layers.knowledge_aggregation import KnowledgeAggregation
from kr_keras.layers.posterior_discriminator import PosteriorDiscriminator
from kr_keras.layers.sparse_recoding import SparseRecoding
from kr_keras.layers.subsample import Subsample2D

__all__ = ["HintRegressor", "IdentityMapping", "KnowledgeAggregation", "PosteriorDiscriminator",
           "SparseRecoding", "Subsample2D"]
