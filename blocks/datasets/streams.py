"""Data streams: iterate over a dataset epoch by epoch, with Fuel's interface.

The main loop only relies on that interface -- ``sources``,
``get_epoch_iterator(as_dict=...)``, ``reset()``, ``next_epoch()``, ``close()`` -- so a
Fuel stream (or any object providing it) works as well as the streams here.
"""

from blocks.datasets.schemes import IterationScheme

__all__ = ["AbstractDataStream", "DataStream", "DataIterator", "ServerDataStream"]

# The messages of the data server (blocks.datasets.server) to its client.
SERVER_DATA, SERVER_END_OF_EPOCH = "data", "end of epoch"
# What the client sends back: one credit per item it is ready to receive.
SERVER_CREDIT = b"1"


class DataIterator:
    """The iterator over one epoch of a stream.

    Parameters
    ----------
    data_stream : AbstractDataStream
    request_iterator : iterator, optional
        The requests sent to ``data_stream.get_data``; None: call it without a request.
    as_dict : bool, optional
        Yield dicts (source name -> data) instead of tuples.
    """

    def __init__(self, data_stream, request_iterator=None, as_dict=False):
        self.data_stream = data_stream
        self.request_iterator = request_iterator
        self.as_dict = as_dict

    def __iter__(self):
        return self

    def __next__(self):
        if self.request_iterator is not None:
            data = self.data_stream.get_data(next(self.request_iterator))
        else:
            data = self.data_stream.get_data()
        if self.as_dict:
            return dict(zip(self.data_stream.sources, data))
        return data


class AbstractDataStream:
    """The base of data streams and transformers.

    Parameters
    ----------
    iteration_scheme : IterationScheme, optional
        Where the requests of an epoch come from.
    axis_labels : dict, optional
        Source name -> tuple of axis names, for information.
    """

    def __init__(self, iteration_scheme=None, axis_labels=None):
        if iteration_scheme is not None and not isinstance(iteration_scheme, IterationScheme):
            raise TypeError(
                f"{type(self).__name__}: iteration_scheme must be an IterationScheme, got "
                f"{type(iteration_scheme).__name__}"
            )
        self.iteration_scheme = iteration_scheme
        self.axis_labels = axis_labels

    @property
    def sources(self):
        """The names of the data sources, in the order of the tuples the stream yields."""
        raise NotImplementedError(f"{type(self).__name__} must define sources")

    @property
    def produces_examples(self):
        """Whether the stream yields single examples (rather than batches).

        The iteration scheme decides when there is one; otherwise it is set explicitly.
        """
        if self.iteration_scheme is not None:
            return self.iteration_scheme.requests_examples
        if "_produces_examples" not in self.__dict__:
            raise ValueError(
                f"cannot infer whether this {type(self).__name__} produces examples or "
                f"batches: it has no iteration scheme; set its produces_examples attribute "
                f"to True (examples) or False (batches)")
        return self._produces_examples

    @produces_examples.setter
    def produces_examples(self, value):
        if self.iteration_scheme is not None:
            raise ValueError(
                f"cannot set produces_examples on this {type(self).__name__}: its iteration "
                f"scheme {type(self.iteration_scheme).__name__} decides it")
        self._produces_examples = bool(value)

    def get_data(self, request=None):
        """The data answering one request, a tuple in the order of :attr:`sources`."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_data")

    def reset(self):
        """Restart from the beginning (the next epoch iterator starts afresh)."""

    def next_epoch(self):
        """Move on to the next epoch."""

    def close(self):
        """Release the resources the stream holds."""

    def get_epoch_iterator(self, as_dict=False):
        """An iterator over the data of one epoch (tuples, or dicts with ``as_dict``)."""
        requests = (self.iteration_scheme.get_request_iterator()
                    if self.iteration_scheme is not None else None)
        return DataIterator(self, requests, as_dict=as_dict)

    def iterate_epochs(self, as_dict=False):
        """An endless iterator over epoch iterators."""
        while True:
            yield self.get_epoch_iterator(as_dict=as_dict)


class DataStream(AbstractDataStream):
    """A stream that reads a dataset, one request of the iteration scheme at a time.

    Parameters
    ----------
    dataset : Dataset
    iteration_scheme : IterationScheme, optional
        Defaults to the dataset's ``example_iteration_scheme`` (e.g. one example at a time
        over an :class:`~blocks.datasets.IndexableDataset`), if it has one.

    Examples
    --------
    >>> from blocks.datasets import IndexableDataset, SequentialScheme
    >>> dataset = IndexableDataset({'x': np.arange(5.0), 'y': np.arange(5) % 2})
    >>> stream = DataStream(dataset, iteration_scheme=SequentialScheme(5, batch_size=2))
    >>> stream.sources
    ('x', 'y')
    >>> for batch in stream.get_epoch_iterator(as_dict=True):
    ...     print(batch['x'], batch['y'])
    [0. 1.] [0 1]
    [2. 3.] [0 1]
    [4.] [0]
    """

    def __init__(self, dataset, iteration_scheme=None, **kwargs):
        if not hasattr(dataset, "get_data") or not hasattr(dataset, "sources"):
            raise TypeError(
                f"DataStream: dataset must provide sources and get_data (e.g. an "
                f"IndexableDataset), got {type(dataset).__name__}"
            )
        if iteration_scheme is None:
            iteration_scheme = getattr(dataset, "example_iteration_scheme", None)
        if getattr(dataset, "axis_labels", None):
            kwargs.setdefault("axis_labels", dict(dataset.axis_labels))
        super().__init__(iteration_scheme=iteration_scheme, **kwargs)
        if iteration_scheme is None:
            # Without requests, a dataset is read one example at a time (Fuel's rule).
            self.produces_examples = True
        if self.produces_examples and self.axis_labels:
            self.axis_labels = {
                source: labels if labels is None else tuple(
                    label for label in labels if label != "batch")
                for source, labels in self.axis_labels.items()}
        self.dataset = dataset
        self.data_state = dataset.open()
        self._fresh_state = True
        self._closed = False

    @classmethod
    def default_stream(cls, dataset, **kwargs):
        """A stream over `dataset`, wrapped in the dataset's ``default_transformers``.

        E.g. :class:`~blocks.datasets.MNIST`'s default stream gives pixels scaled to
        [0, 1] in ``floatX`` rather than the bytes of the file.
        """
        stream = cls(dataset, **kwargs)
        apply = getattr(dataset, "apply_default_transformers", None)
        return apply(stream) if apply is not None else stream

    @property
    def sources(self):
        return self.__dict__.get("_sources", self.dataset.sources)

    @sources.setter
    def sources(self, sources):
        self._sources = tuple(sources)

    def get_data(self, request=None):
        return self.dataset.get_data(self.data_state, request)

    def reset(self):
        self.data_state = self.dataset.reset(self.data_state)
        self._fresh_state = True

    def next_epoch(self):
        self.data_state = self.dataset.next_epoch(self.data_state)

    def close(self):
        self.dataset.close(self.data_state)
        self._closed = True

    def get_epoch_iterator(self, as_dict=False):
        if self._closed:
            # Closed: the next epoch iterator opens the dataset again.
            self.data_state = self.dataset.open()
            self._closed, self._fresh_state = False, False
        elif self._fresh_state:
            self._fresh_state = False
        else:
            self.next_epoch()
        return super().get_epoch_iterator(as_dict=as_dict)


class ServerDataStream(AbstractDataStream):
    """A stream of the data a server (:func:`blocks.datasets.server.start_server`) sends.

    The server, usually another process or machine, reads a stream and sends its items
    over TCP; this stream receives them, epoch by epoch, so data preparation runs
    beside training. Up to `hwm` items are sent ahead of what has been read.

    Parameters
    ----------
    sources : tuple of str
        The sources of the served stream.
    produces_examples : bool
        Whether the served stream yields examples (rather than batches).
    host : str, optional
        Defaults to ``'localhost'``.
    port : int, optional
        Defaults to 5557, Fuel's port.
    hwm : int, optional
        The most items sent ahead (the high-water mark). Defaults to 10.
    axis_labels : dict, optional
    authkey : bytes, optional
        The key the server was started with, if any.

    Notes
    -----
    Fuel's server used ZeroMQ; this one uses :mod:`multiprocessing.connection`, so
    each side must be this library's (a Fuel server cannot feed this stream). Items
    travel pickled: connect only to servers you trust.
    """

    def __init__(self, sources, produces_examples, host="localhost", port=5557, hwm=10,
                 axis_labels=None, authkey=None):
        super().__init__(axis_labels=axis_labels)
        self._sources = tuple(sources)
        self.produces_examples = produces_examples
        self.host, self.port, self.hwm, self.authkey = host, port, hwm, authkey
        self.connection = None

    @property
    def sources(self):
        return self._sources

    @property
    def connected(self):
        return self.connection is not None

    def connect(self):
        """Connect to the server and ask for the first `hwm` items."""
        from multiprocessing.connection import Client

        try:
            self.connection = Client((self.host, self.port), authkey=self.authkey)
        except ConnectionRefusedError:
            raise ConnectionError(
                f"ServerDataStream: no data server at {self.host}:{self.port}; start one "
                f"with blocks.datasets.server.start_server(stream, port={self.port})") from None
        for _ in range(self.hwm):
            self.connection.send_bytes(SERVER_CREDIT)

    def get_data(self, request=None):
        if request is not None:
            raise ValueError(f"ServerDataStream does not take requests, got {request!r}")
        if self.connection is None:
            self.connect()
        kind, data = self.connection.recv()
        self.connection.send_bytes(SERVER_CREDIT)
        if kind == SERVER_END_OF_EPOCH:
            raise StopIteration
        return data

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["connection"] = None  # a checkpoint reconnects
        return state
