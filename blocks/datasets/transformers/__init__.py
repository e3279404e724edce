"""Transformers: streams that change the data of another stream on the fly.

The classes are those of Fuel's ``fuel.transformers``, under the same names and
arguments; :mod:`~blocks.datasets.transformers.sequences`,
:mod:`~blocks.datasets.transformers.defaults` and :mod:`~blocks.datasets.transformers.image`
are Fuel's submodules of the same names.
"""

from blocks.datasets.transformers.background import MultiProcessing
from blocks.datasets.transformers.base import (
    AgnosticSourcewiseTransformer,
    AgnosticTransformer,
    SourcewiseTransformer,
    Transformer,
)
from blocks.datasets.transformers.batches import Batch, Cache, Padding, Unpack
from blocks.datasets.transformers.mapping import Filter, Mapping, SortMapping
from blocks.datasets.transformers.sources import FilterSources, Merge, Rename
from blocks.datasets.transformers.sourcewise import Cast, Flatten, ForceFloatX, ScaleAndShift

__all__ = [
    "Transformer", "AgnosticTransformer", "SourcewiseTransformer",
    "AgnosticSourcewiseTransformer",
    "Mapping", "SortMapping", "Filter",
    "Flatten", "ScaleAndShift", "Cast", "ForceFloatX",
    "Batch", "Unpack", "Cache", "Padding",
    "Rename", "FilterSources", "Merge",
    "MultiProcessing",
]
