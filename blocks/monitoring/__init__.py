"""Monitoring: aggregation of quantities over batches, and evaluation over data streams.

See :mod:`blocks.monitoring.aggregation` (:func:`mean`, :class:`Mean`,
:class:`TakeLast`, :class:`MonitoredQuantity`) and :mod:`blocks.monitoring.evaluators`
(:class:`AggregationBuffer`, :class:`DatasetEvaluator`). The training extensions that
use them are in :mod:`blocks.extensions.monitoring`.
"""

from blocks.monitoring.aggregation import (
    AggregationScheme,
    Aggregator,
    Mean,
    MonitoredQuantity,
    TakeLast,
    mean,
)
from blocks.monitoring.evaluators import (
    AggregationBuffer,
    DatasetEvaluator,
    MonitoredQuantityBuffer,
)

__all__ = ["AggregationScheme", "Aggregator", "Mean", "TakeLast", "mean", "MonitoredQuantity",
           "AggregationBuffer", "MonitoredQuantityBuffer", "DatasetEvaluator"]
