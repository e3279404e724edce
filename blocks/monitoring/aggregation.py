"""How monitored quantities are aggregated over the batches of a dataset or an epoch.

A symbolic variable can carry an :class:`AggregationScheme` in
``variable.tag.aggregation_scheme``; :func:`mean` makes such a variable. A scheme gives
an :class:`Aggregator`: shared variables that accumulate over batches (through updates
compiled into a function run on every batch), and a readout expression computed from
them at the end.

Exact means over batches of different sizes need the sizes: ``mean(total, count)``
accumulates the numerator and the denominator separately, so the result is
``sum(totals) / sum(counts)``, not a mean of per-batch means. Variables without a scheme
are aggregated by :class:`~blocks.monitoring.evaluators.AggregationBuffer` (see there),
by default as a mean over examples.

>>> import pytensor.tensor as pt
>>> x = pt.vector('x')
>>> average = mean(x.sum(), x.shape[0])
>>> average.tag.aggregation_scheme.denominator is not None
True
"""

import numpy as np
import pytensor
import pytensor.tensor as pt

__all__ = [
    "AggregationScheme", "Aggregator", "Mean", "TakeLast", "mean", "MonitoredQuantity",
]


def _accumulator_dtype(variable):
    # Floats are summed in float64 so that long epochs of float32 values stay exact.
    if variable.dtype.startswith("float"):
        return "float64"
    if variable.dtype.startswith(("int", "uint", "bool")):
        return "int64"
    return variable.dtype


def _empty(ndim, dtype):
    """The initial value of an accumulator: 0, or an empty array for ndim > 0."""
    return np.zeros((0,) * ndim, dtype=dtype)


def _accumulator(variable, name):
    variable = pt.as_tensor_variable(variable)
    dtype = _accumulator_dtype(variable)
    return pytensor.shared(_empty(variable.ndim, dtype), name=name), variable


def _accumulate(accumulator, value):
    """``accumulator + value``, an empty accumulator counting as zeros of value's shape.

    An accumulator with dimensions starts empty because the shape of the values is only
    known from the first batch; adding it into a zero array over the region it covers
    avoids both runtime broadcasting (refused by PyTensor) and branching.
    """
    value = pt.cast(value, accumulator.dtype)
    if value.ndim == 0:
        return accumulator + value
    region = tuple(slice(0, accumulator.shape[axis]) for axis in range(value.ndim))
    return pt.inc_subtensor(pt.zeros_like(value)[region], accumulator) + value


class Aggregator:
    """What aggregates one quantity: accumulators, their updates, and the readout.

    Parameters
    ----------
    aggregation_scheme : AggregationScheme
    initialization_updates : list of (SharedVariable, Variable) pairs
        Values that reset the accumulators (constants, so no data is needed).
    accumulation_updates : list of (SharedVariable, Variable) pairs
        Applied for every batch.
    readout_variable : Variable
        The aggregated value, computed from the accumulators.
    """

    def __init__(self, aggregation_scheme, initialization_updates=None,
                 accumulation_updates=None, readout_variable=None):
        self.aggregation_scheme = aggregation_scheme
        self.initialization_updates = list(initialization_updates or [])
        self.accumulation_updates = list(accumulation_updates or [])
        self.readout_variable = readout_variable


class AggregationScheme:
    """How to aggregate a quantity over batches; :meth:`get_aggregator` makes one."""

    def get_aggregator(self):
        """A new :class:`Aggregator` with its own accumulators."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_aggregator()")


class Mean(AggregationScheme):
    """``sum(numerator over batches) / sum(denominator over batches)``.

    Parameters
    ----------
    numerator, denominator : Variable or number
        Per-batch expressions, e.g. the sum of a quantity over the batch and the number
        of examples in it.
    """

    def __init__(self, numerator, denominator):
        self.numerator = numerator
        self.denominator = denominator

    def get_aggregator(self):
        numerator_acc, numerator = _accumulator(self.numerator, "numerator_acc")
        denominator_acc, denominator = _accumulator(self.denominator, "denominator_acc")
        return Aggregator(
            self,
            initialization_updates=[
                (acc, pt.constant(_empty(acc.ndim, acc.dtype)))
                for acc in (numerator_acc, denominator_acc)],
            accumulation_updates=[
                (numerator_acc, _accumulate(numerator_acc, numerator)),
                (denominator_acc, _accumulate(denominator_acc, denominator))],
            readout_variable=pt.true_div(numerator_acc, denominator_acc),
        )


class TakeLast(AggregationScheme):
    """The value of the last batch.

    Parameters
    ----------
    variable : Variable
    """

    def __init__(self, variable):
        self.variable = variable

    def get_aggregator(self):
        variable = pt.as_tensor_variable(self.variable)
        storage = pytensor.shared(_empty(variable.ndim, variable.dtype), name="last_value")
        return Aggregator(
            self,
            initialization_updates=[(storage, pt.constant(_empty(variable.ndim,
                                                                 variable.dtype)))],
            accumulation_updates=[(storage, variable)],
            readout_variable=storage,
        )


class _DataIndependent(AggregationScheme):
    """A quantity that depends on no data (e.g. a parameter norm): read at the end."""

    def __init__(self, variable):
        self.variable = variable

    def get_aggregator(self):
        return Aggregator(self, readout_variable=self.variable)


def mean(numerator, denominator=1.0):
    """``numerator / denominator``, aggregated over batches as an exact mean.

    Parameters
    ----------
    numerator : Variable
        E.g. the sum of per-example errors in the batch.
    denominator : Variable or number
        E.g. the number of examples in the batch, ``x.shape[0]``.

    Returns
    -------
    Variable
        The per-batch ratio, with ``tag.aggregation_scheme = Mean(numerator,
        denominator)``: aggregated, it is ``sum(numerators) / sum(denominators)``.
    """
    variable = numerator / denominator
    variable.tag.aggregation_scheme = Mean(numerator, denominator)
    return variable


class MonitoredQuantity:
    """A quantity computed in Python (not symbolically) from per-batch values.

    Subclasses implement :meth:`initialize`, :meth:`aggregate` and
    :meth:`get_aggregated_value`; the evaluator computes the symbolic variables
    `requires` on every batch and passes their values to :meth:`aggregate`.

    Parameters
    ----------
    requires : list of Variable
    name : str

    Examples
    --------
    >>> class MaxAbs(MonitoredQuantity):
    ...     def initialize(self):
    ...         self.value = 0.0
    ...     def aggregate(self, x):
    ...         self.value = max(self.value, float(np.abs(x).max()))
    ...     def get_aggregated_value(self):
    ...         return self.value
    >>> import pytensor.tensor as pt
    >>> x = pt.vector('x')
    >>> quantity = MaxAbs(requires=[x], name='max_abs')
    """

    def __init__(self, requires=None, name=None):
        self.requires = list(requires or [])
        self.name = name

    def initialize(self):
        """Reset before a new aggregation."""
        raise NotImplementedError(f"{type(self).__name__} must implement initialize()")

    def aggregate(self, *args):
        """Take the values of `requires` for one batch."""
        raise NotImplementedError(f"{type(self).__name__} must implement aggregate()")

    def get_aggregated_value(self):
        """The aggregated value."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement get_aggregated_value()")
