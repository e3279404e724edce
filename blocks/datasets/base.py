"""In-memory datasets with Fuel's interface: named sources, requests of examples."""

from collections.abc import Mapping

import numpy as np

from blocks.datasets.schemes import SequentialExampleScheme

__all__ = ["Dataset", "IndexableDataset", "IterableDataset"]


class Dataset:
    """The interface of datasets, as :class:`~blocks.datasets.streams.DataStream` uses it.

    A dataset can provide the sources ``provides_sources`` (set on the class, or on the
    instance before calling ``Dataset.__init__``); `sources` selects the ones returned by
    :meth:`get_data`, in that order. Iteration state, if any, is created by :meth:`open`
    and passed back to every method, so one dataset can feed several streams.

    Parameters
    ----------
    sources : sequence of str, optional
        The sources to return, a subset of ``provides_sources``. Defaults to all.
    axis_labels : dict, optional
        Source name -> tuple of axis names, for information.

    Attributes
    ----------
    example_iteration_scheme : IterationScheme
        The scheme of a stream of single examples (:meth:`get_example_stream`); reading
        it raises ``AttributeError`` on datasets that have none.
    default_transformers : tuple
        ``(TransformerClass, args, kwargs)`` triples that
        :meth:`~blocks.datasets.DataStream.default_stream` applies in order, e.g. to turn
        bytes into floats.

    Examples
    --------
    >>> class Squares(Dataset):
    ...     provides_sources = ('number', 'square')
    ...     def get_data(self, state=None, request=None):
    ...         return self.filter_sources((request, request ** 2))
    >>> Squares(sources=('square',)).get_data(request=3)
    (9,)
    """

    provides_sources = ()
    default_transformers = ()

    def __init__(self, sources=None, axis_labels=None):
        if not self.provides_sources:
            raise ValueError(f"{type(self).__name__}: the dataset does not set "
                             f"provides_sources (the names of the sources it can provide)")
        if sources is not None:
            self.sources = sources
        self.axis_labels = axis_labels

    @property
    def sources(self):
        """The sources :meth:`get_data` returns, in order (default: all it provides)."""
        return self.__dict__.get("_sources", tuple(self.provides_sources))

    @sources.setter
    def sources(self, sources):
        sources = (sources,) if isinstance(sources, str) else tuple(sources)
        unknown = [source for source in sources if source not in self.provides_sources]
        if unknown or not sources:
            raise ValueError(
                f"{type(self).__name__}: unable to provide the requested sources "
                f"{list(sources)}: unknown source(s) {unknown}; the dataset provides "
                f"{list(self.provides_sources)}"
            )
        self._sources = sources

    @property
    def example_iteration_scheme(self):
        try:
            return self.__dict__["_example_iteration_scheme"]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} does not provide an example "
                                 f"iteration scheme") from None

    @example_iteration_scheme.setter
    def example_iteration_scheme(self, scheme):
        self._example_iteration_scheme = scheme

    def get_example_stream(self):
        """A :class:`~blocks.datasets.DataStream` of single examples of this dataset."""
        from blocks.datasets.streams import DataStream

        return DataStream(self, iteration_scheme=self.example_iteration_scheme)

    def apply_default_transformers(self, stream):
        """`stream` wrapped in the :attr:`default_transformers`, in order."""
        for transformer, args, kwargs in self.default_transformers:
            stream = transformer(stream, *args, **kwargs)
        return stream

    def open(self):
        """Create the iteration state (None for datasets without any)."""
        return None

    def close(self, state):
        """Release what :meth:`open` acquired."""

    def reset(self, state):
        """A fresh state, as :meth:`open` returns it."""
        self.close(state)
        return self.open()

    def next_epoch(self, state):
        """The state for the next epoch."""
        return self.reset(state)

    def get_data(self, state=None, request=None):
        """A tuple with the data of each source in ``self.sources``."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_data")

    def filter_sources(self, data):
        """Keep, from a tuple holding every provided source, the selected sources.

        The result follows the order of :attr:`sources`.
        """
        by_name = dict(zip(self.provides_sources, data))
        return tuple(by_name[source] for source in self.sources)


def _as_named_sources(owner, data):
    """`data` (a mapping or a single indexable) as a dict of source name -> data."""
    if isinstance(data, Mapping):
        if not data:
            raise ValueError(f"{owner}: needs at least one source, got an empty mapping")
        bad = [name for name in data if not isinstance(name, str)]
        if bad:
            raise TypeError(f"{owner}: source names must be strings, got {bad}")
        return dict(data)
    return {"data": data}


class IndexableDataset(Dataset):
    """A dataset of sources that support ``len`` and indexing: arrays, lists.

    Every source must hold the same number of examples (its first axis). A request is
    an integer, a slice, or a list of indices; the answer holds, for every source, the
    examples requested (an array for an array source, a list for a list source).
    Each selected source is also an attribute: ``dataset.features``.

    Parameters
    ----------
    indexables : dict or OrderedDict of source name -> array or list
        The sources, in order. A single array or list becomes the source ``'data'``.
    start, stop : int, optional
        Use only the examples ``start:stop``.
    sources, axis_labels
        See :class:`Dataset`.

    Attributes
    ----------
    indexables : list
        The data of each selected source, in the order of :attr:`sources`.
    num_examples : int

    Examples
    --------
    >>> dataset = IndexableDataset({'features': np.arange(8).reshape(4, 2),
    ...                             'targets': np.array([0, 1, 1, 0])})
    >>> dataset.sources, dataset.num_examples
    (('features', 'targets'), 4)
    >>> features, targets = dataset.get_data(request=[3, 0])
    >>> features.tolist(), targets.tolist()
    ([[6, 7], [0, 1]], [0, 0])
    >>> dataset.targets.tolist()
    [0, 1, 1, 0]
    """

    def __init__(self, indexables, start=None, stop=None, **kwargs):
        owner = type(self).__name__
        indexables = _as_named_sources(owner, indexables)
        self.provides_sources = tuple(indexables)
        super().__init__(**kwargs)
        for name, indexable in indexables.items():
            if not (hasattr(indexable, "__len__") and hasattr(indexable, "__getitem__")):
                raise TypeError(
                    f"{owner}: source {name!r} must support len() and indexing (an array or "
                    f"a list), got {type(indexable).__name__}"
                )
            if isinstance(indexable, np.ndarray) and indexable.ndim == 0:
                raise ValueError(f"{owner}: source {name!r} is a 0-d array; examples are "
                                 f"indexed along the first axis")
        lengths = {name: len(indexable) for name, indexable in indexables.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(
                f"{owner}: all sources must have the same number of examples, got {lengths}")
        self.start, self.stop = start, stop
        self._by_source = {name: indexable[start:stop] for name, indexable in indexables.items()}
        self.example_iteration_scheme = SequentialExampleScheme(self.num_examples)

    def __getattr__(self, name):
        # Only called for names not found otherwise: the sources, as in Fuel.
        by_source = self.__dict__.get("_by_source", {})
        if name in by_source and name in self.sources:
            return by_source[name]
        raise AttributeError(f"{type(self).__name__} has no attribute or source {name!r}")

    @property
    def indexables(self):
        return [self._by_source[source] for source in self.sources]

    @property
    def num_examples(self):
        return len(self._by_source[self.provides_sources[0]])

    def get_data(self, state=None, request=None):
        if request is None:
            raise ValueError(
                f"{type(self).__name__}: get_data needs a request (an index, a slice or a list "
                f"of indices); give the stream an iteration scheme"
            )
        if not isinstance(request, (int, np.integer, slice)):
            request = [int(index) for index in request]
            out_of_range = [i for i in request if not -self.num_examples <= i < self.num_examples]
            if out_of_range:
                raise IndexError(
                    f"{type(self).__name__}: indices {out_of_range} out of range for "
                    f"{self.num_examples} examples"
                )
        return tuple(_index(self._by_source[source], request) for source in self.sources)


def _index(indexable, request):
    if isinstance(request, list) and not isinstance(indexable, np.ndarray):
        return [indexable[index] for index in request]
    return indexable[request]


class IterableDataset(Dataset):
    """A dataset of sources that are iterated over in step, one example at a time.

    Each epoch starts the iteration over. Lists and arrays make picklable iteration
    states, so a stream over them can be checkpointed in the middle of an epoch. It has
    no example iteration scheme (``example_iteration_scheme`` is None): a stream over it
    sends no requests; use :class:`~blocks.datasets.Batch` to make batches.

    Parameters
    ----------
    iterables : dict of source name -> iterable
        A single iterable becomes the source ``'data'``. Iterables with a length must
        all have the same length.
    sources, axis_labels
        See :class:`Dataset`.

    Examples
    --------
    >>> from blocks.datasets import DataStream
    >>> stream = DataStream(IterableDataset({'x': [1, 2, 3], 'y': 'abc'}))
    >>> list(stream.get_epoch_iterator())
    [(1, 'a'), (2, 'b'), (3, 'c')]
    """

    def __init__(self, iterables, **kwargs):
        owner = type(self).__name__
        iterables = _as_named_sources(owner, iterables)
        for name, iterable in iterables.items():
            if not hasattr(iterable, "__iter__"):
                raise TypeError(f"{owner}: source {name!r} is not iterable, got "
                                f"{type(iterable).__name__}")
        lengths = {name: len(it) for name, it in iterables.items() if hasattr(it, "__len__")}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"{owner}: the iterables are of different lengths: {lengths}")
        self.provides_sources = tuple(iterables)
        super().__init__(**kwargs)
        self._by_source = iterables
        self.example_iteration_scheme = None

    @property
    def iterables(self):
        return [self._by_source[source] for source in self.sources]

    @property
    def num_examples(self):
        lengths = [len(it) for it in self.iterables if hasattr(it, "__len__")]
        return lengths[0] if len(lengths) == len(self.iterables) else float("nan")

    def open(self):
        return zip(*[iter(iterable) for iterable in self.iterables])

    def get_data(self, state=None, request=None):
        if state is None or request is not None:
            raise ValueError(
                f"{type(self).__name__}: get_data takes the state from open() and no request "
                f"(got request={request!r}); use a DataStream without an iteration scheme"
            )
        return next(state)
