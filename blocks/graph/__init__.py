"""Annotated computation graphs and the transformations that act on them."""

from blocks.graph.annotations import Annotation, add_annotation
from blocks.graph.computation_graph import ComputationGraph

__all__ = ["Annotation", "ComputationGraph", "add_annotation"]
