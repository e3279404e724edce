"""The transformer protocol: a stream that reads another stream and changes its data.

A transformer's :meth:`~Transformer.get_data` reads the next item of the wrapped stream
and hands it to ``transform_example`` or ``transform_batch``, depending on whether the
stream carries single examples or batches (its ``produces_examples``). Transformations
that are the same for both implement ``transform_any`` (:class:`AgnosticTransformer`);
transformations of some sources independently of the others implement
``transform_source_example`` / ``transform_source_batch`` or ``transform_any_source``
(:class:`SourcewiseTransformer`, :class:`AgnosticSourcewiseTransformer`).
"""

import numpy as np

from blocks.datasets.streams import AbstractDataStream

__all__ = [
    "Transformer", "AgnosticTransformer", "SourcewiseTransformer",
    "AgnosticSourcewiseTransformer",
]

_KINDS = {True: "examples", False: "batches"}


def stream_produces_examples(stream):
    """Whether `stream` yields examples (True), batches (False), or None if unknown.

    Streams with Fuel's interface but no ``produces_examples`` are unknown.
    """
    try:
        return bool(stream.produces_examples)
    except (AttributeError, ValueError):
        return None


def check_input_kind(transformer, data_stream, expects_examples):
    """Raise a ``ValueError`` if `data_stream` is known to carry the wrong kind of data."""
    produces = stream_produces_examples(data_stream)
    if produces is not None and produces != expects_examples:
        raise ValueError(
            f"{type(transformer).__name__}: the wrapped data stream must produce "
            f"{_KINDS[expects_examples]}, not {_KINDS[produces]}")


def stack_examples(examples):
    """Examples as one array if their shapes agree, else as an object array of them."""
    arrays = [np.asarray(example) for example in examples]
    if len({array.shape for array in arrays}) <= 1:
        return np.stack(arrays) if arrays else np.asarray(arrays)
    batch = np.empty(len(arrays), dtype=object)
    for i, array in enumerate(arrays):  # one at a time: numpy would broadcast a list
        batch[i] = array
    return batch


def select_sources(owner, argument, selected, sources):
    """`selected` (None: all, a name, or names) as a tuple of names among `sources`."""
    sources = tuple(sources)
    if selected is None:
        return sources
    selected = (selected,) if isinstance(selected, str) else tuple(selected)
    unknown = [source for source in selected if source not in sources]
    if unknown:
        raise ValueError(f"{type(owner).__name__}: unknown {argument} {unknown}; the stream's "
                         f"sources are {list(sources)}")
    return selected


class Transformer(AbstractDataStream):
    """A stream that reads another stream (`data_stream`) and transforms its data.

    A subclass defines ``transform_example`` (for a stream of examples),
    ``transform_batch`` (for a stream of batches) or both; one that turns examples into
    batches or back, or that needs the request, overrides :meth:`get_data` and reads
    ``next(self.child_epoch_iterator)``. ``reset``, ``next_epoch`` and ``close`` are
    passed on to the wrapped stream.

    Parameters
    ----------
    data_stream : stream
        Any object with Fuel's stream interface (``sources``, ``get_epoch_iterator``).
    produces_examples : bool, optional
        Whether this transformer yields examples. Defaults to what its iteration scheme
        requests, else to what the wrapped stream produces.
    iteration_scheme, axis_labels
        See :class:`~blocks.datasets.streams.AbstractDataStream`; `axis_labels` default
        to the wrapped stream's.

    Examples
    --------
    >>> import numpy as np
    >>> from blocks.datasets import DataStream, IndexableDataset, SequentialScheme
    >>> class Double(Transformer):
    ...     def transform_batch(self, batch):
    ...         return tuple(2 * data for data in batch)
    >>> stream = DataStream(IndexableDataset({'x': np.arange(4)}), SequentialScheme(4, 2))
    >>> [x.tolist() for x, in Double(stream).get_epoch_iterator()]
    [[0, 2], [4, 6]]
    """

    def __init__(self, data_stream, produces_examples=None, **kwargs):
        missing = [name for name in ("sources", "get_epoch_iterator")
                   if not hasattr(data_stream, name)]
        if missing:
            raise TypeError(
                f"{type(self).__name__}: data_stream must have Fuel's stream interface; "
                f"{type(data_stream).__name__} lacks {missing}"
            )
        if getattr(data_stream, "axis_labels", None):
            kwargs.setdefault("axis_labels", dict(data_stream.axis_labels))
        super().__init__(**kwargs)
        self.data_stream = data_stream
        self.child_epoch_iterator = None
        if produces_examples is not None:
            self.produces_examples = produces_examples

    @property
    def sources(self):
        return self.__dict__.get("_sources", tuple(self.data_stream.sources))

    @sources.setter
    def sources(self, sources):
        self._sources = tuple(sources)

    @property
    def produces_examples(self):
        if self.iteration_scheme is not None or "_produces_examples" in self.__dict__:
            return AbstractDataStream.produces_examples.fget(self)
        # A wrapped stream whose kind is unknown is taken to carry batches, the kind
        # main loops read.
        return bool(stream_produces_examples(self.data_stream))

    @produces_examples.setter
    def produces_examples(self, value):
        AbstractDataStream.produces_examples.fset(self, value)

    def get_data(self, request=None):
        if request is not None:
            raise ValueError(f"{type(self).__name__} does not take requests, got {request!r}")
        data = next(self.child_epoch_iterator)
        produces = self.produces_examples
        child_produces = stream_produces_examples(self.data_stream)
        if child_produces is not None and child_produces != produces:
            raise NotImplementedError(
                f"the wrapped data stream produces {_KINDS[child_produces]} while the "
                f"{type(self).__name__} transformer produces {_KINDS[produces]}, which it "
                f"does not support")
        return self.transform_example(data) if produces else self.transform_batch(data)

    def transform_example(self, example):
        """Transform one example (a tuple in the order of the wrapped stream's sources)."""
        raise NotImplementedError(
            f"{type(self).__name__} does not support examples as input, but the wrapped "
            f"data stream produces examples")

    def transform_batch(self, batch):
        """Transform one batch (a tuple in the order of the wrapped stream's sources)."""
        raise NotImplementedError(
            f"{type(self).__name__} does not support batches as input, but the wrapped "
            f"data stream produces batches")

    def reset(self):
        self.data_stream.reset()

    def next_epoch(self):
        self.data_stream.next_epoch()

    def close(self):
        self.data_stream.close()

    def get_epoch_iterator(self, as_dict=False):
        self.child_epoch_iterator = self.data_stream.get_epoch_iterator()
        return super().get_epoch_iterator(as_dict=as_dict)


class AgnosticTransformer(Transformer):
    """A transformer that does the same to examples and batches: ``transform_any``."""

    def transform_any(self, data):
        """Transform an example or a batch."""
        raise NotImplementedError(f"{type(self).__name__} must implement transform_any")

    def transform_example(self, example):
        return self.transform_any(example)

    def transform_batch(self, batch):
        return self.transform_any(batch)


class SourcewiseTransformer(Transformer):
    """A transformer that changes some sources, each independently of the others.

    Subclasses define ``transform_source_example(example, source_name)``,
    ``transform_source_batch(batch, source_name)`` or both.

    Parameters
    ----------
    data_stream : stream
    produces_examples : bool, optional
        See :class:`Transformer`.
    which_sources : tuple of str, optional
        The sources to transform. Defaults to all of them.
    """

    def __init__(self, data_stream, produces_examples=None, which_sources=None, **kwargs):
        super().__init__(data_stream, produces_examples, **kwargs)
        self.which_sources = select_sources(self, "which_sources", which_sources,
                                            data_stream.sources)

    def _apply_sourcewise_transformation(self, data, method):
        return tuple(
            method(source_data, source) if source in self.which_sources else source_data
            for source, source_data in zip(self.data_stream.sources, data))

    def transform_source_example(self, source_example, source_name):
        """Transform the example of one source."""
        raise NotImplementedError(
            f"{type(self).__name__} does not support examples as input, but the wrapped "
            f"data stream produces examples")

    def transform_source_batch(self, source_batch, source_name):
        """Transform the batch of one source."""
        raise NotImplementedError(
            f"{type(self).__name__} does not support batches as input, but the wrapped "
            f"data stream produces batches")

    def transform_example(self, example):
        return self._apply_sourcewise_transformation(example, self.transform_source_example)

    def transform_batch(self, batch):
        return self._apply_sourcewise_transformation(batch, self.transform_source_batch)


class AgnosticSourcewiseTransformer(AgnosticTransformer, SourcewiseTransformer):
    """A sourcewise transformer that does the same to examples and batches.

    Subclasses define ``transform_any_source(source_data, source_name)``.
    """

    def transform_any(self, data):
        return self._apply_sourcewise_transformation(data, self.transform_any_source)

    def transform_any_source(self, source_data, source_name):
        """Transform the data (an example or a batch) of one source."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement transform_any_source")
