"""Transformers that change which sources a stream has: Rename, FilterSources, Merge."""

import logging

from blocks.datasets.streams import AbstractDataStream
from blocks.datasets.transformers.base import (
    AgnosticTransformer,
    select_sources,
    stream_produces_examples,
)

__all__ = ["Rename", "FilterSources", "Merge"]

logger = logging.getLogger(__name__)


class Rename(AgnosticTransformer):
    """Rename sources of a stream.

    Parameters
    ----------
    data_stream : stream
    names : dict
        Old source name -> new source name.
    on_non_existent : {'raise', 'warn', 'ignore'}, optional
        What to do with an old name the stream does not have: raise a ``KeyError``
        (default), log a warning, or log it at debug level. Several old names may map
        to the same new name as long as at most one of them is a source of the stream,
        so one renaming serves differently named datasets.

    Examples
    --------
    >>> import numpy as np
    >>> from blocks.datasets import IndexableDataset, DataStream
    >>> stream = DataStream(IndexableDataset({'x': np.arange(2), 'y': np.arange(2)}))
    >>> Rename(stream, {'x': 'features'}).sources
    ('features', 'y')
    """

    def __init__(self, data_stream, names, on_non_existent="raise", **kwargs):
        if on_non_existent not in ("raise", "warn", "ignore"):
            raise ValueError(f"Rename: on_non_existent must be 'raise', 'warn' or 'ignore', "
                             f"got {on_non_existent!r}")
        sources = list(data_stream.sources)
        used = {old: new for old, new in names.items() if old in sources}
        if len(set(used.values())) != len(used):
            raise KeyError(f"Rename: several sources of the stream would be renamed to the "
                           f"same name: {used}")
        for old, new in names.items():
            if old not in sources:
                message = (f"Rename: renaming source {old!r} to {new!r}: the stream does not "
                           f"provide a source {old!r} (its sources: {tuple(sources)})")
                if on_non_existent == "raise":
                    raise KeyError(message)
                logger.log(logging.WARNING if on_non_existent == "warn" else logging.DEBUG,
                           message)
            elif new in sources and new not in used:
                raise KeyError(f"Rename: renaming source {old!r} to {new!r} would create two "
                               f"sources named {new!r}")
        if getattr(data_stream, "axis_labels", None):
            kwargs.setdefault("axis_labels", {
                used.get(source, source): labels
                for source, labels in data_stream.axis_labels.items()})
        super().__init__(data_stream, stream_produces_examples(data_stream), **kwargs)
        self.sources = tuple(used.get(source, source) for source in sources)

    def transform_any(self, data):
        return data


class FilterSources(AgnosticTransformer):
    """Keep only some sources of a stream, in the stream's order.

    Parameters
    ----------
    data_stream : stream
    sources : tuple of str
        A subset of the stream's sources (their order here does not matter).

    Examples
    --------
    >>> import numpy as np
    >>> from blocks.datasets import IndexableDataset, DataStream
    >>> stream = DataStream(IndexableDataset({'x': np.arange(2), 'y': np.arange(2) + 5}))
    >>> [tuple(map(int, item)) for item in FilterSources(stream, ('y',)).get_epoch_iterator()]
    [(5,), (6,)]
    """

    def __init__(self, data_stream, sources, **kwargs):
        sources = select_sources(self, "sources", sources, data_stream.sources)
        if getattr(data_stream, "axis_labels", None):
            kwargs.setdefault("axis_labels", {
                source: labels for source, labels in data_stream.axis_labels.items()
                if source in sources})
        super().__init__(data_stream, stream_produces_examples(data_stream), **kwargs)
        self.sources = tuple(source for source in data_stream.sources if source in sources)

    def transform_any(self, data):
        return tuple(source_data for source_data, source in zip(data, self.data_stream.sources)
                     if source in self.sources)


class Merge(AbstractDataStream):
    """Read several streams in step and yield their data side by side.

    Parameters
    ----------
    data_streams : sequence of streams
        All must produce the same kind of data (examples or batches).
    sources : tuple of str
        The names of the merged sources: one per source of every stream, in order.
    axis_labels : dict, optional

    Examples
    --------
    >>> from blocks.datasets import IterableDataset, DataStream
    >>> english = DataStream(IterableDataset(['Hello world!']))
    >>> french = DataStream(IterableDataset(['Bonjour le monde!']))
    >>> merged = Merge((english, french), ('english', 'french'))
    >>> next(merged.get_epoch_iterator())
    ('Hello world!', 'Bonjour le monde!')
    """

    def __init__(self, data_streams, sources, axis_labels=None):
        super().__init__(iteration_scheme=None, axis_labels=axis_labels)
        self.data_streams = list(data_streams)
        if not self.data_streams:
            raise ValueError("Merge: needs at least one data stream")
        kinds = {stream_produces_examples(stream) for stream in self.data_streams}
        if len(kinds) != 1:
            raise ValueError("Merge: all data streams must produce the same type of output "
                             "(batches or examples)")
        (kind,) = kinds
        if kind is not None:
            self.produces_examples = kind
        sources = (sources,) if isinstance(sources, str) else tuple(sources)
        num_sources = sum(len(stream.sources) for stream in self.data_streams)
        if num_sources != len(sources):
            raise ValueError(f"Merge: the streams have {num_sources} sources in all, but "
                             f"{len(sources)} names were given: {sources}")
        self._sources = sources
        self.child_epoch_iterators = None

    @property
    def sources(self):
        return self._sources

    def close(self):
        for stream in self.data_streams:
            stream.close()

    def reset(self):
        for stream in self.data_streams:
            stream.reset()

    def next_epoch(self):
        for stream in self.data_streams:
            stream.next_epoch()

    def get_epoch_iterator(self, as_dict=False):
        self.child_epoch_iterators = [stream.get_epoch_iterator()
                                      for stream in self.data_streams]
        return super().get_epoch_iterator(as_dict=as_dict)

    def get_data(self, request=None):
        if request is not None:
            raise ValueError(f"Merge does not take requests, got {request!r}")
        result = []
        for iterator in self.child_epoch_iterators:
            result.extend(next(iterator))
        return tuple(result)
