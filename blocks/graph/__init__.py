"""Annotated computation graphs and the transformations that act on them."""

from blocks.graph.annotations import Annotation, add_annotation
from blocks.graph.bn import (
    apply_batch_normalization,
    batch_normalization,
    get_batch_normalization_updates,
)
from blocks.graph.collect import collect_parameters
from blocks.graph.computation_graph import ComputationGraph
from blocks.graph.regularization import apply_dropout, apply_noise
from blocks.roles import add_role, has_roles

__all__ = [
    "Annotation", "ComputationGraph", "add_annotation",
    "apply_batch_normalization", "batch_normalization", "get_batch_normalization_updates",
    "apply_dropout", "apply_noise", "collect_parameters", "add_role", "has_roles",
]
