"""Extensions that monitor quantities on the training data or on other data streams."""

import logging

from pytensor.graph.basic import Variable

from blocks.extensions import SimpleExtension
from blocks.monitoring.evaluators import DatasetEvaluator

__all__ = ["MonitoringExtension", "DataStreamMonitoring", "TrainingDataMonitoring"]

logger = logging.getLogger(__name__)


#: The separator of the parts of a record name, ``{prefix}_{name}_{suffix}``.
SEPARATOR = "_"


class MonitoringExtension(SimpleExtension):
    """The base of monitoring extensions: names records and writes them to the log.

    Parameters
    ----------
    prefix : str, optional
        Record names are ``{prefix}_{name}`` (e.g. ``valid_cost``); the separator is
        :attr:`SEPARATOR`.
    suffix : str, optional
        Appended as ``{name}_{suffix}``.
    **kwargs
        Triggers of :class:`~blocks.extensions.SimpleExtension`.
    """

    #: Joins the prefix, the variable name and the suffix of a record name.
    SEPARATOR = SEPARATOR

    def __init__(self, prefix=None, suffix=None, **kwargs):
        super().__init__(**kwargs)
        self.prefix = prefix
        self.suffix = suffix

    def _record_name(self, name):
        if not isinstance(name, str):
            raise ValueError(
                f"{type(self).__name__}: a record name must be a string, got {name!r} "
                f"(give the monitored variable a name)")
        # As in Blocks, only a prefix or suffix of None is left out ('' is kept).
        return self.SEPARATOR.join(
            part for part in (self.prefix, name, self.suffix) if part is not None)

    def record_name(self, variable):
        """The log record of `variable` (a named variable or monitored quantity)."""
        return self._record_name(variable.name)

    def add_records(self, log, record_tuples):
        """Write ``(name, value)`` pairs to the current row, names prefixed/suffixed."""
        row = log.current_row
        for name, value in record_tuples:
            row[self._record_name(name)] = value


class DataStreamMonitoring(MonitoringExtension):
    """Evaluate variables over a whole data stream and log the aggregated values.

    Runs before the first epoch and after every epoch by default. Variables without an
    aggregation scheme are averaged over examples weighted by batch size, so a mean
    cost is the exact mean over the dataset even when the last batch is smaller (see
    :class:`~blocks.monitoring.evaluators.AggregationBuffer`).

    Parameters
    ----------
    variables : list of Variable or MonitoredQuantity
        Named; their inputs are matched to the stream's sources by name.
    data_stream : data stream
        E.g. a validation stream; each evaluation goes through one epoch of it.
    updates : list of pairs, optional
        Updates applied on each batch during evaluation.
    mode : str or Mode, optional
        The mode of the evaluation function (see :mod:`blocks.backend`); by default
        ``blocks.config.mode``, else PyTensor's default.
    devices : int or list of jax.Device, optional
        Split each batch over these devices (JAX only; see :mod:`blocks.devices`);
        without it a JAX evaluation runs on one device.
    batch_axes : dict, optional
        With `devices`: source name to batch axis; by default from the stream's
        ``axis_labels``.
    prefix, suffix : str, optional
        See :class:`MonitoringExtension`.
    **kwargs
        Triggers of :class:`~blocks.extensions.SimpleExtension`.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> from blocks.datasets import IndexableDataset, DataStream, SequentialScheme
    >>> x = pt.vector('x')
    >>> average = x.mean()
    >>> average.name = 'average'
    >>> stream = DataStream(IndexableDataset({'x': np.arange(5.0)}),
    ...                     iteration_scheme=SequentialScheme(5, batch_size=2))
    >>> monitor = DataStreamMonitoring([average], stream, prefix='valid')
    >>> float(monitor.evaluate()['average'])  # (0 + 1 + 2 + 3 + 4) / 5
    2.0
    """

    def __init__(self, variables, data_stream, updates=None, mode=None, devices=None,
                 batch_axes=None, **kwargs):
        kwargs.setdefault("before_first_epoch", True)
        kwargs.setdefault("after_epoch", True)
        super().__init__(**kwargs)
        sharding = None
        if devices is not None:
            from blocks.devices import BatchSharding

            sharding = BatchSharding(devices, batch_axes,
                                     getattr(data_stream, "axis_labels", None))
        self._evaluator = DatasetEvaluator(variables, updates, mode=mode, sharding=sharding)
        self.data_stream = data_stream

    def evaluate(self):
        """The aggregated values over one epoch of the data stream, by variable name."""
        return self._evaluator.evaluate(self.data_stream)

    def do(self, which_callback, *args):
        logger.info("monitoring on %s started", self.prefix or "a data stream")
        self.add_records(self.main_loop.log, self.evaluate().items())
        logger.info("monitoring on %s finished", self.prefix or "a data stream")


class TrainingDataMonitoring(MonitoringExtension):
    """Log quantities computed on the training batches, aggregated between records.

    The quantities are accumulated on every batch and written (then reset) whenever a
    condition holds (e.g. ``after_batch=True`` for per-batch values, ``after_epoch=True``
    for values over the epoch). Variables without an aggregation scheme are averaged
    over examples weighted by batch size, exactly (see
    :class:`~blocks.monitoring.evaluators.AggregationBuffer`); data-independent ones are
    read when recorded.

    How the values are computed:

    - If the algorithm has ``add_updates`` (an
      :class:`~blocks.algorithms.UpdatesAlgorithm`, such as
      :class:`~blocks.algorithms.GradientDescent`) and there is no
      :class:`~blocks.monitoring.aggregation.MonitoredQuantity`, the accumulation
      updates are added to the training function before it is compiled: the values
      cost no extra pass, and are those of the parameters before the batch's update.
    - Otherwise a separate function is compiled and run on each batch at
      ``before_batch`` (also before the update), which computes the monitored part of
      the graph a second time.

    Parameters
    ----------
    variables : list of Variable or MonitoredQuantity
        Named variables of the training graph.
    mode : str or Mode, optional
        The mode of the separate function, when one is compiled (see
        :mod:`blocks.backend`).
    prefix, suffix : str, optional
        See :class:`MonitoringExtension`.
    **kwargs
        Triggers of :class:`~blocks.extensions.SimpleExtension`: when to record.
    """

    def __init__(self, variables, mode=None, **kwargs):
        super().__init__(**kwargs)
        self.variables = list(variables)
        self._evaluator = DatasetEvaluator(self.variables, mode=mode)
        self._in_algorithm = False
        self._attached = False
        self._last_record = None

    @property
    def _buffer(self):
        return self._evaluator.buffer

    def _attach(self):
        algorithm = self.main_loop.algorithm
        symbolic_only = all(isinstance(v, Variable) for v in self.variables)
        if symbolic_only and callable(getattr(algorithm, "add_updates", None)):
            if self._buffer.accumulation_updates:
                algorithm.add_updates(self._buffer.accumulation_updates)
            self._in_algorithm = True
        else:
            logger.info("TrainingDataMonitoring: the algorithm cannot compute the monitored "
                        "values; a separate function computes them on every batch")
        self._evaluator.initialize_aggregators()
        self._attached = True

    def dispatch(self, callback_invoked, *from_main_loop):
        if callback_invoked in ("before_training", "on_resumption") and not self._attached:
            self._attach()
        elif callback_invoked == "before_batch" and not self._in_algorithm:
            self._evaluator.process_batch(from_main_loop[0])
        super().dispatch(callback_invoked, *from_main_loop)

    def do(self, which_callback, *args):
        # Records at one iteration (e.g. after_batch, then after_epoch) share one set of
        # values: no batch came in between, and the aggregators were reset by the first.
        key = self.main_loop.status["iterations_done"]
        if self._last_record is None or self._last_record[0] != key:
            self._last_record = (key, list(self._evaluator.get_aggregated_values().items()))
            self._evaluator.initialize_aggregators()
        self.add_records(self.main_loop.log, self._last_record[1])
