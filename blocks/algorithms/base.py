"""Training algorithms: objects that the main loop feeds with batches of data."""

import logging
import warnings
from collections.abc import Mapping

import pytensor
from pytensor.graph.basic import Variable

from blocks import backend
from blocks.graph import ComputationGraph
from blocks.utils import is_shared_variable

__all__ = ["TrainingAlgorithm", "UpdatesAlgorithm"]

logger = logging.getLogger(__name__)

_UNUSED_SOURCES_POLICIES = ("raise", "warn", "ignore")


class TrainingAlgorithm:
    """The interface of training algorithms, as the main loop uses it.

    :meth:`initialize` is called once before training, :meth:`process_batch` for every
    batch of data.

    Examples
    --------
    >>> class CountBatches(TrainingAlgorithm):
    ...     def initialize(self, **kwargs):
    ...         self.count = 0
    ...     def process_batch(self, batch):
    ...         self.count += 1
    >>> algorithm = CountBatches()
    >>> algorithm.initialize()
    >>> algorithm.process_batch({'x': None})
    >>> algorithm.count
    1
    """

    def initialize(self, **kwargs):
        """Prepare for training (e.g. compile functions)."""
        raise NotImplementedError(f"{type(self).__name__} must implement initialize()")

    def process_batch(self, batch):
        """Do one training step on `batch`, a dict mapping source names to arrays."""
        raise NotImplementedError(f"{type(self).__name__} must implement process_batch(batch)")


def _as_update_pairs(updates, owner):
    """`updates` (a mapping or a sequence of pairs) as a list of checked pairs."""
    if isinstance(updates, Mapping):
        updates = list(updates.items())
    elif isinstance(updates, (list, tuple)):
        updates = list(updates)
    else:
        raise TypeError(
            f"{owner}: updates must be a dict or a list of (shared variable, new value) pairs, "
            f"got {type(updates).__name__}"
        )
    pairs = []
    for pair in updates:
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
            raise TypeError(
                f"{owner}: each update must be a (shared variable, new value) pair, got {pair!r}"
            )
        shared, new_value = pair
        if not is_shared_variable(shared):
            raise TypeError(
                f"{owner}: only shared variables can be updated, got {shared!r} of type "
                f"{type(shared).__name__}"
            )
        if not isinstance(new_value, Variable):
            new_value = pytensor.tensor.as_tensor_variable(new_value)
        pairs.append((shared, new_value))
    return pairs


class UpdatesAlgorithm(TrainingAlgorithm):
    """A training algorithm that applies a list of updates to shared variables per batch.

    The updates are compiled into one function (by :meth:`initialize`) whose inputs are
    the free inputs of the update expressions; :meth:`process_batch` calls it with the
    batch's arrays, matched to the inputs by name.

    Parameters
    ----------
    updates : dict or list of (SharedVariable, TensorVariable) pairs, optional
    theano_func_kwargs : dict, optional
        Keyword arguments of :func:`pytensor.function` (Blocks' name; a ``mode`` given
        here counts as the `mode` argument).
    mode : str or Mode, optional
        The PyTensor mode of the compiled function, e.g. ``'JAX'``; by default
        ``blocks.config.mode`` (``BLOCKS_MODE``), else PyTensor's default mode (the Numba
        linker). See :mod:`blocks.backend`.
    devices : int or list of jax.Device, optional
        Train data-parallel on these devices (JAX only): each batch is split along its
        batch axis, the parameters are replicated, and XLA sums the gradients over the
        devices (see :mod:`blocks.devices`). The parameters stay NumPy arrays on the
        host between steps, so checkpoints are the same as on one device.
    batch_axes : dict, optional
        With `devices`: source name to its batch axis (None to copy the source to every
        device). By default the data stream's ``axis_labels`` tell (the main loop hands
        them to the algorithm).
    on_unused_sources : {'raise', 'warn', 'ignore'}, optional
        What to do with a batch source the function does not use. Defaults to 'raise'.

    Attributes
    ----------
    inputs : list of Variable
        The inputs of the compiled function (set by :meth:`initialize`).

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> total = pytensor.shared(0.0, name='total')
    >>> x = pt.vector('x')
    >>> algorithm = UpdatesAlgorithm(updates=[(total, total + x.sum())])
    >>> algorithm.initialize()
    >>> algorithm.process_batch({'x': np.array([1.0, 2.0])})
    >>> algorithm.process_batch({'x': np.array([3.0])})
    >>> float(total.get_value())
    6.0
    """

    #: Fuel-style axis labels of the training data, handed over by the main loop.
    axis_labels = None
    devices = None
    batch_axes = None

    def __init__(self, updates=None, theano_func_kwargs=None, on_unused_sources="raise",
                 mode=None, devices=None, batch_axes=None, **kwargs):
        super().__init__(**kwargs)
        if on_unused_sources not in _UNUSED_SOURCES_POLICIES:
            raise ValueError(
                f"{type(self).__name__}: on_unused_sources must be one of "
                f"{_UNUSED_SOURCES_POLICIES}, got {on_unused_sources!r}"
            )
        self.on_unused_sources = on_unused_sources
        self.theano_func_kwargs = dict(theano_func_kwargs or {})
        self.mode = mode if mode is not None else self.theano_func_kwargs.pop("mode", None)
        if devices is not None and not backend.is_jax(self.mode):
            raise ValueError(
                f"{type(self).__name__}: devices={devices!r} needs the JAX backend; pass "
                f"mode='JAX' (or set blocks.config.mode / BLOCKS_MODE)")
        self.devices = devices
        self.batch_axes = batch_axes
        self._updates = []
        self._graph_update_targets = set()
        self._function = None
        self.inputs = None
        if updates is not None:
            self.add_updates(updates)

    @property
    def updates(self):
        """The list of (shared variable, new value) pairs applied at every batch."""
        return self._updates

    @updates.setter
    def updates(self, value):
        self._updates = []
        self._graph_update_targets = set()
        self._function = None
        self.add_updates(value)

    def add_updates(self, updates):
        """Add updates (a dict or a list of pairs) to those applied at every batch.

        Updating a shared variable twice is an error, except that an update added here
        replaces one collected from the graph (see :meth:`add_graph_updates`). Added after
        :meth:`initialize`, updates take effect once the function is recompiled, which the
        next :meth:`process_batch` does.
        """
        pairs = _as_update_pairs(updates, type(self).__name__)
        targets = {shared for shared, _ in self._updates}
        for shared, _ in pairs:
            if shared in self._graph_update_targets:
                logger.info("%s: the update of %s replaces the one collected from the graph",
                            type(self).__name__, shared)
                self._graph_update_targets.discard(shared)
                self._updates = [pair for pair in self._updates if pair[0] is not shared]
            elif shared in targets:
                raise ValueError(
                    f"{type(self).__name__}: the shared variable {shared.name or shared!r} "
                    f"would be updated twice"
                )
            targets.add(shared)
        self._updates.extend(pairs)
        self._invalidate()

    def add_graph_updates(self, updates):
        """Add the updates collected from a graph (e.g. ``ComputationGraph(cost).updates``).

        They give way to updates of the same shared variables added explicitly, before or
        after (e.g. batch-normalization statistics that the user updates differently).
        """
        pairs = _as_update_pairs(updates, type(self).__name__)
        targets = {shared for shared, _ in self._updates}
        new = [(shared, value) for shared, value in pairs if shared not in targets]
        self._updates.extend(new)
        self._graph_update_targets.update(shared for shared, _ in new)
        self._invalidate()

    def _invalidate(self):
        if self._function is not None:
            logger.info("%s: updates added after initialize(); recompiling at the next batch",
                        type(self).__name__)
            self._function = None

    def initialize(self, **kwargs):
        """Compile the function applying the updates (once; :meth:`process_batch` reuses it)."""
        owner = type(self).__name__
        logger.info("%s: compiling the training function", owner)
        self.inputs = ComputationGraph([new for _, new in self._updates]).inputs \
            if self._updates else []
        unnamed = [var for var in self.inputs if not var.name]
        if unnamed:
            raise ValueError(
                f"{owner}: inputs of the training function must be named after the data "
                f"sources that feed them; unnamed inputs: {unnamed}"
            )
        names = [var.name for var in self.inputs]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(
                f"{owner}: several inputs of the training function share the name(s) "
                f"{duplicates}, so a batch source cannot be matched to one of them"
            )
        sharding = None
        if self.devices is not None:
            from blocks.devices import BatchSharding

            sharding = BatchSharding(self.devices, self.batch_axes, self.axis_labels)
        self._function = backend.function(
            self.inputs, [], updates=self._updates, mode=self.mode, sharding=sharding,
            **self.theano_func_kwargs)

    def _check_sources(self, batch):
        owner = type(self).__name__
        if not isinstance(batch, Mapping):
            raise TypeError(
                f"{owner}.process_batch: expected a dict mapping source names to arrays, got "
                f"{type(batch).__name__} (iterate the stream with "
                f"get_epoch_iterator(as_dict=True))"
            )
        names = [var.name for var in self.inputs]
        missing = [name for name in names if name not in batch]
        if missing:
            raise ValueError(
                f"{owner}.process_batch: the batch lacks the source(s) {missing} that the "
                f"training function needs; the batch has {list(batch)}, the function's "
                f"inputs are {names}"
            )
        unused = [source for source in batch if source not in names]
        if unused and self.on_unused_sources != "ignore":
            message = (
                f"{owner}.process_batch: the training function does not use the batch "
                f"source(s) {unused}; its inputs are {names} (pass "
                f"on_unused_sources='warn' or 'ignore' to allow extra sources)"
            )
            if self.on_unused_sources == "raise":
                raise ValueError(message)
            warnings.warn(message, stacklevel=3)

    def process_batch(self, batch):
        """Apply the updates once, with the arrays of `batch` (source name -> array)."""
        if self._function is None:
            self.initialize()
        self._check_sources(batch)
        self._function(*[batch[var.name] for var in self.inputs])

    def __getstate__(self):
        # The compiled function is rebuilt from the updates after unpickling.
        state = self.__dict__.copy()
        state["_function"] = None
        return state

