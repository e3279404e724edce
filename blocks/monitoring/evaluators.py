"""Evaluate monitored quantities over batches: aggregation buffers and dataset evaluators."""

import logging
from collections import OrderedDict
from collections.abc import Mapping

import pytensor.tensor as pt
from pytensor.graph.basic import Constant, Variable

from blocks import backend
from blocks.graph import ComputationGraph
from blocks.monitoring.aggregation import Mean, MonitoredQuantity, TakeLast, _DataIndependent

__all__ = ["AggregationBuffer", "MonitoredQuantityBuffer", "DatasetEvaluator"]

logger = logging.getLogger(__name__)


def _check_names(owner, variables):
    names = [getattr(variable, "name", None) for variable in variables]
    unnamed = [variable for variable, name in zip(variables, names) if not name]
    if unnamed:
        raise ValueError(
            f"{owner}: monitored quantities must have names (each becomes a log record); "
            f"unnamed: {unnamed}"
        )
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"{owner}: monitored quantities should have unique names; "
                         f"duplicates: {', '.join(duplicates)}")
    return names


def _batch_size(variable, inputs):
    """The number of examples in a batch: the length of the first input with an axis."""
    for input_ in inputs:
        if input_.ndim >= 1:
            return pt.cast(input_.shape[0], "float64")
    return None


def _default_scheme(variable, use_take_last):
    inputs = ComputationGraph([variable]).inputs
    if not inputs:
        return _DataIndependent(variable)
    if use_take_last:
        return TakeLast(variable)
    size = _batch_size(variable, inputs)
    if size is None:
        return Mean(variable, 1.0)
    return Mean(variable * size, size)


class AggregationBuffer:
    """Accumulators for symbolic variables, their updates, and the aggregated values.

    Each variable is aggregated by its ``tag.aggregation_scheme`` if it has one (see
    :func:`~blocks.monitoring.aggregation.mean`). Otherwise:

    - a variable that depends on no data input (e.g. a norm of the parameters) is
      computed once, when the values are read;
    - with ``use_take_last=True``, the value of the last batch is taken;
    - else the variable is taken as a mean over the examples of its batch and averaged
      weighted by batch size, which gives the exact mean over all examples. The batch
      size is the length along the first axis of the variable's first input with at
      least one axis. For time-major sequences (time, batch, ...) that is the number of
      time steps: annotate such variables with ``mean(numerator, denominator)``
      instead. A variable whose inputs have no axis is averaged over batches.

    Parameters
    ----------
    variables : list of Variable
        Named symbolic variables.
    use_take_last : bool
    mode : str or Mode, optional
        The mode of the readout function (see :mod:`blocks.backend`).

    Attributes
    ----------
    initialization_updates, accumulation_updates : list of pairs
    readout_variables : OrderedDict
        Variable name to its aggregated value, an expression of the accumulators.
    inputs : list of Variable
        The data inputs of the accumulation updates.
    """

    def __init__(self, variables, use_take_last=False, mode=None):
        self.variables = list(variables)
        self.variable_names = _check_names(type(self).__name__, self.variables)
        self.use_take_last = use_take_last
        self.mode = mode
        self.aggregators = OrderedDict()
        for name, variable in zip(self.variable_names, self.variables):
            scheme = getattr(variable.tag, "aggregation_scheme", None)
            if scheme is None:
                scheme = _default_scheme(variable, use_take_last)
            self.aggregators[name] = scheme.get_aggregator()
        self.initialization_updates = [
            pair for aggregator in self.aggregators.values()
            for pair in aggregator.initialization_updates]
        self.accumulation_updates = [
            pair for aggregator in self.aggregators.values()
            for pair in aggregator.accumulation_updates]
        self.readout_variables = OrderedDict(
            (name, aggregator.readout_variable) for name, aggregator in self.aggregators.items())
        self.inputs = (ComputationGraph([new for _, new in self.accumulation_updates]).inputs
                       if self.accumulation_updates else [])
        self._readout_function = None

    def initialize_aggregators(self):
        """Reset the accumulators (no compilation: their initial values are constants)."""
        for shared, initial in self.initialization_updates:
            value = initial.data if isinstance(initial, Constant) else initial.eval()
            shared.set_value(value.copy())

    def get_aggregated_values(self):
        """The aggregated values, by variable name (one compiled function, reused)."""
        if not self.readout_variables:
            return OrderedDict()
        if self._readout_function is None:
            self._readout_function = backend.function(
                [], list(self.readout_variables.values()), mode=self.mode)
        values = self._readout_function()
        return OrderedDict(zip(self.readout_variables, values))

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_readout_function"] = None
        return state


class MonitoredQuantityBuffer:
    """Aggregates :class:`~blocks.monitoring.aggregation.MonitoredQuantity` objects.

    Parameters
    ----------
    quantities : list of MonitoredQuantity

    Attributes
    ----------
    requires : list of Variable
        What must be computed on every batch (the requirements of all quantities).
    """

    def __init__(self, quantities):
        self.quantities = list(quantities)
        _check_names(type(self).__name__, self.quantities)
        self.requires = [variable for quantity in self.quantities
                         for variable in quantity.requires]

    def initialize_quantities(self):
        for quantity in self.quantities:
            quantity.initialize()

    def aggregate_quantities(self, values):
        """Give each quantity its share of `values` (the values of :attr:`requires`)."""
        values = list(values)
        start = 0
        for quantity in self.quantities:
            stop = start + len(quantity.requires)
            quantity.aggregate(*values[start:stop])
            start = stop

    def get_aggregated_values(self):
        return OrderedDict((quantity.name, quantity.get_aggregated_value())
                           for quantity in self.quantities)


def _check_quantities(owner, variables):
    """Check `variables` are symbolic variables or MonitoredQuantity objects."""
    for variable in variables:
        if not isinstance(variable, (Variable, MonitoredQuantity)):
            raise TypeError(
                f"{owner}: monitored quantities must be symbolic variables or "
                f"MonitoredQuantity objects; received {variable!r}"
            )


class DatasetEvaluator:
    """Compute aggregated values of variables over all the batches of a data stream.

    One function is compiled (on first use) that updates the accumulators of the
    :class:`AggregationBuffer` and computes what the monitored quantities need; it is
    fed with the sources of each batch named like its inputs (other sources are
    ignored).

    Parameters
    ----------
    variables : list of Variable or MonitoredQuantity
        Named; how each is aggregated is described in :class:`AggregationBuffer`
        (variables without an aggregation scheme give exact means over examples).
    updates : list of pairs, optional
        Other updates to apply on every batch (e.g. of batch statistics).
    use_take_last : bool
        See :class:`AggregationBuffer`.
    mode : str or Mode, optional
        The mode of the compiled function (see :mod:`blocks.backend`).
    sharding : :class:`~blocks.devices.BatchSharding`, optional
        Split each batch over several devices (JAX only).

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> x = pt.vector('x')
    >>> average = x.mean()
    >>> average.name = 'average'
    >>> evaluator = DatasetEvaluator([average])
    >>> batches = [{'x': np.array([1.0, 2.0, 3.0])}, {'x': np.array([10.0])}]
    >>> float(evaluator.evaluate(batches)['average'])  # (1 + 2 + 3 + 10) / 4
    4.0
    """

    def __init__(self, variables, updates=None, use_take_last=False, mode=None,
                 sharding=None):
        owner = type(self).__name__
        self.mode = mode
        self.sharding = sharding
        variables = list(variables)
        _check_quantities(owner, variables)
        _check_names(owner, variables)
        symbolic = [v for v in variables if isinstance(v, Variable)]
        self.buffer = AggregationBuffer(symbolic, use_take_last=use_take_last, mode=mode)
        self.quantities = MonitoredQuantityBuffer(
            [v for v in variables if isinstance(v, MonitoredQuantity)])
        self.updates = list(updates.items() if isinstance(updates, Mapping) else updates or [])
        self._function = None
        self.inputs = None
        self.input_names = None

    def _compile(self):
        owner = type(self).__name__
        updates = self.buffer.accumulation_updates + self.updates
        outputs = self.quantities.requires
        expressions = [new for _, new in updates] + outputs
        self.inputs = ComputationGraph(expressions).inputs if expressions else []
        self.input_names = _check_names(owner + " (inputs)", self.inputs)
        self._function = backend.function(self.inputs, outputs, updates=updates,
                                          on_unused_input="ignore", mode=self.mode,
                                          sharding=getattr(self, "sharding", None))

    def initialize_aggregators(self):
        """Reset all aggregations."""
        self.buffer.initialize_aggregators()
        self.quantities.initialize_quantities()

    def process_batch(self, batch):
        """Accumulate one batch (a dict from source names to arrays)."""
        if self._function is None:
            self._compile()
        if not isinstance(batch, Mapping):
            raise TypeError(
                f"{type(self).__name__}: batches must be dicts from source names to data; "
                f"received {type(batch).__name__} (use get_epoch_iterator(as_dict=True))"
            )
        missing = [name for name in self.input_names if name not in batch]
        if missing:
            raise ValueError(
                f"{type(self).__name__}: the batch lacks the source(s) {missing} that the "
                f"monitored quantities need; the batch has {sorted(batch)}"
            )
        values = self._function(*[batch[name] for name in self.input_names])
        self.quantities.aggregate_quantities(values)

    def get_aggregated_values(self):
        """The aggregated values, by name."""
        values = self.buffer.get_aggregated_values()
        values.update(self.quantities.get_aggregated_values())
        return values

    def evaluate(self, data_stream):
        """Aggregate over one epoch of `data_stream` (or any iterable of batch dicts)."""
        self.initialize_aggregators()
        if hasattr(data_stream, "get_epoch_iterator"):
            batches = data_stream.get_epoch_iterator(as_dict=True)
        else:
            batches = data_stream
        count = 0
        for batch in batches:
            self.process_batch(batch)
            count += 1
        if count == 0:
            raise ValueError(f"{type(self).__name__}: the data stream gave no batch to "
                             f"evaluate on")
        return self.get_aggregated_values()

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_function"] = None
        return state
