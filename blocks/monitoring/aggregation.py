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
    "AggregationScheme", "Aggregator", "Mean", "Perplexity", "TakeLast", "Minimum", "Maximum",
    "Concatenate", "mean", "perplexity", "take_last", "minimum", "maximum", "concatenate",
    "MonitoredQuantity",
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
    """How to aggregate a quantity over batches; :meth:`get_aggregator` makes one.

    Parameters
    ----------
    variable : Variable
        The quantity computed on one batch. Attach the scheme to it as
        ``variable.tag.aggregation_scheme`` (or use the functions :func:`mean`,
        :func:`take_last`, :func:`minimum`... that do it).
    """

    def __init__(self, variable=None):
        self.variable = variable

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


class Perplexity(Mean):
    """``exp(-sum(numerators) / sum(denominators))``: the perplexity of a data set.

    Parameters
    ----------
    numerator : Variable
        The total log-likelihood of a batch.
    denominator : Variable or number
        The number of examples (or tokens) in it.
    """

    def get_aggregator(self):
        aggregator = super().get_aggregator()
        aggregator.readout_variable = pt.exp(-aggregator.readout_variable)
        return aggregator


class TakeLast(AggregationScheme):
    """The value of the last batch.

    Parameters
    ----------
    variable : Variable
    """

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

    def get_aggregator(self):
        return Aggregator(self, readout_variable=self.variable)


def _batches_storage(variable, name):
    """An empty shared variable for values of `variable` stacked along a new first axis.

    Its static shape is `variable`'s behind an unknown first axis, so that updates built
    from `variable` have exactly its type.
    """
    static = tuple(variable.type.shape)
    empty = np.zeros((0,) + tuple(0 if length is None else length for length in static),
                     dtype=variable.dtype)
    return pytensor.shared(empty, name=name, shape=(None,) + static)


def _stacked(variable, storage):
    """`variable` with a new first axis of length 1, its static length left unknown."""
    # Always 1 at run time; written so that no static length 1 is inferred, which the
    # storage's type (unknown first axis) would refuse in an update.
    length = pt.maximum(pt.minimum(storage.shape[0], 1), 1)
    return pt.alloc(variable, length, *variable.shape)


def _elementwise_aggregator(scheme, combine):
    """An aggregator keeping ``combine(kept, value)`` over batches, elementwise.

    The value is kept with a leading axis of length 1, in a shared variable that starts
    empty (its shape is known from the first batch, and a scalar needs an empty state
    too). Filling the region of the batch's value that the kept value covers with it
    gives the batch's value itself at the first batch and the kept value afterwards,
    with no branch: backends that compute both sides of a branch would fail on the
    empty array.
    """
    variable = pt.as_tensor_variable(scheme.variable)
    storage = _batches_storage(variable, f"{type(scheme).__name__.lower()}_storage")
    value = _stacked(variable, storage)
    region = tuple(slice(0, storage.shape[axis]) for axis in range(storage.ndim))
    kept = pt.set_subtensor(value[region], storage)
    return Aggregator(
        scheme,
        initialization_updates=[(storage, pt.constant(storage.get_value()))],
        accumulation_updates=[(storage, combine(kept, value))],
        readout_variable=storage[0],
    )


class Minimum(AggregationScheme):
    """The elementwise minimum over batches.

    Parameters
    ----------
    variable : Variable
        The same shape at every batch.
    """

    _combine = staticmethod(pt.minimum)

    def get_aggregator(self):
        return _elementwise_aggregator(self, self._combine)


class Maximum(Minimum):
    """The elementwise maximum over batches (see :class:`Minimum`)."""

    _combine = staticmethod(pt.maximum)


class Concatenate(AggregationScheme):
    """The values of all batches, stacked along a new first axis.

    Parameters
    ----------
    variable : Variable
        The same shape at every batch; a scalar gives a vector with one value per
        batch.
    """

    def get_aggregator(self):
        variable = pt.as_tensor_variable(self.variable)
        storage = _batches_storage(variable, "concatenate_storage")
        # The empty initial value is reshaped to (0,) + the batch's shape, so that
        # concatenating to it needs no branch.
        kept = pt.specify_shape(
            storage.reshape(pt.concatenate([storage.shape[:1], variable.shape]),
                            ndim=storage.ndim),
            storage.type.shape)
        return Aggregator(
            self,
            initialization_updates=[(storage, pt.constant(storage.get_value()))],
            accumulation_updates=[
                (storage, pt.concatenate([kept, _stacked(variable, storage)]))],
            readout_variable=storage,
        )


def _simple_aggregation(scheme, variable):
    """A copy of `variable` (same name) with ``tag.aggregation_scheme = scheme(copy)``."""
    copy = variable.copy(name=variable.name)
    copy.tag.aggregation_scheme = scheme(copy)
    return copy


def take_last(variable):
    """`variable`, aggregated as its value on the last batch (see :class:`TakeLast`)."""
    return _simple_aggregation(TakeLast, variable)


def minimum(variable):
    """`variable`, aggregated as its minimum over batches (see :class:`Minimum`).

    >>> import pytensor.tensor as pt
    >>> x = pt.vector('x')
    >>> smallest = minimum(x.min().copy(name='smallest'))
    >>> smallest.name, type(smallest.tag.aggregation_scheme).__name__
    ('smallest', 'Minimum')
    """
    return _simple_aggregation(Minimum, variable)


def maximum(variable):
    """`variable`, aggregated as its maximum over batches (see :class:`Maximum`)."""
    return _simple_aggregation(Maximum, variable)


def concatenate(variable):
    """`variable`, aggregated as the stack of its values on every batch (:class:`Concatenate`)."""
    return _simple_aggregation(Concatenate, variable)


def mean(numerator, denominator=1.0):
    """``numerator / denominator``, aggregated over batches as an exact mean.

    The result is named after `numerator` (monitoring needs names).

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

    >>> import pytensor.tensor as pt
    >>> errors = pt.vector('errors')
    >>> total = errors.sum()
    >>> total.name = 'error_rate'
    >>> mean(total, errors.shape[0]).name
    'error_rate'
    """
    variable = numerator / denominator
    variable.tag.aggregation_scheme = Mean(numerator, denominator)
    variable.name = getattr(numerator, "name", None)
    return variable


def perplexity(log_likelihood, n_examples):
    """``exp(-log_likelihood / n_examples)``, aggregated over batches as a perplexity.

    Parameters
    ----------
    log_likelihood : Variable
        The total log-likelihood of a batch.
    n_examples : Variable or number

    Returns
    -------
    Variable
        Named ``perplexity``, with ``tag.aggregation_scheme = Perplexity(log_likelihood,
        n_examples)``.
    """
    variable = pt.exp(-log_likelihood / n_examples)
    variable.tag.aggregation_scheme = Perplexity(log_likelihood, n_examples)
    variable.name = "perplexity"
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
