"""Custom Keras layers of kr_keras."""

from kr_keras.layers.identity_mapping import IdentityMapping
from kr_keras.layers.knowledge_aggregation import KnowledgeAggregation
from kr_keras.layers.sparse_recoding import SparseRecoding

__all__ = ["IdentityMapping", "KnowledgeAggregation", "SparseRecoding"]
