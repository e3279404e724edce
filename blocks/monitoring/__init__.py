"""Monitoring: aggregation of quantities over batches, and evaluation over data streams.

See :mod:`blocks.monitoring.aggregation` (:func:`mean`, :class:`Mean`,
:class:`Perplexity`, :class:`TakeLast`, :class:`Minimum`, :class:`Maximum`,
:class:`Concatenate`, :class:`MonitoredQuantity`) and :mod:`blocks.monitoring.evaluators`
(:class:`AggregationBuffer`, :class:`DatasetEvaluator`). The training extensions that
use them are in :mod:`blocks.extensions.monitoring`.
"""

from blocks.monitoring.aggregation import (
    AggregationScheme,
    Aggregator,
    Concatenate,
    Maximum,
    Mean,
    Minimum,
    MonitoredQuantity,
    Perplexity,
    TakeLast,
    concatenate,
    maximum,
    mean,
    minimum,
    perplexity,
    take_last,
)
from blocks.monitoring.evaluators import (
    AggregationBuffer,
    DatasetEvaluator,
    MonitoredQuantityBuffer,
)

__all__ = ["AggregationScheme", "Aggregator", "Mean", "Perplexity", "TakeLast", "Minimum",
           "Maximum", "Concatenate", "mean", "perplexity", "take_last", "minimum", "maximum",
           "concatenate", "MonitoredQuantity",
           "AggregationBuffer", "MonitoredQuantityBuffer", "DatasetEvaluator"]
