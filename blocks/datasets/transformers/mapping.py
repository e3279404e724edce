"""Transformers that apply a user's function to every item: Mapping, Filter."""

import numpy as np

from blocks.datasets.transformers.base import (
    Transformer,
    stack_examples,
    stream_produces_examples,
)

__all__ = ["Mapping", "SortMapping", "Filter"]


def _as_source_names(sources):
    if sources is None:
        return ()
    return (sources,) if isinstance(sources, str) else tuple(sources)


class Mapping(Transformer):
    """Apply a function to every item (example or batch) of a stream.

    Parameters
    ----------
    data_stream : stream
    mapping : callable
        Takes the item -- a tuple in the order of the stream's sources, or with
        ``mapping_accepts=dict`` a dict of source name -> data -- and returns the new
        data of every source, or, with `add_sources`, the data of the added sources (a
        tuple, or a dict with ``mapping_accepts=dict``). Use a module-level function
        (not a lambda) if the stream is to be pickled.
    add_sources : tuple of str, optional
        Names of sources the mapping adds; without it, the mapping replaces the data.
    mapping_accepts : {list, dict}, optional
        What the mapping takes and returns. Defaults to ``list`` (tuples).

    Examples
    --------
    >>> from blocks.datasets import IndexableDataset, DataStream
    >>> stream = DataStream(IndexableDataset({'x': np.array([1, 2, 3])}))
    >>> squared = Mapping(stream, lambda data: (data[0] ** 2,), add_sources=('x2',))
    >>> squared.sources
    ('x', 'x2')
    >>> [(int(x), int(x2)) for x, x2 in squared.get_epoch_iterator()]
    [(1, 1), (2, 4), (3, 9)]
    >>> doubled = Mapping(stream, lambda data: {'x': 2 * data['x']}, mapping_accepts=dict)
    >>> [int(x) for x, in doubled.get_epoch_iterator()]
    [2, 4, 6]
    """

    def __init__(self, data_stream, mapping, add_sources=None, mapping_accepts=list,
                 **kwargs):
        if not callable(mapping):
            raise TypeError(f"Mapping: mapping must be callable, got {type(mapping).__name__}")
        if mapping_accepts not in (list, dict):
            raise ValueError(f"Mapping: mapping_accepts must be list or dict, got "
                             f"{mapping_accepts!r}")
        super().__init__(data_stream, stream_produces_examples(data_stream), **kwargs)
        self.mapping = mapping
        self.mapping_accepts = mapping_accepts
        self.add_sources = _as_source_names(add_sources)
        clashes = [source for source in self.add_sources if source in data_stream.sources]
        if clashes:
            raise ValueError(f"Mapping: add_sources {clashes} are already sources of the "
                             f"stream {tuple(data_stream.sources)}")

    @property
    def sources(self):
        return tuple(self.data_stream.sources) + self.add_sources

    def get_data(self, request=None):
        if request is not None:
            raise ValueError(f"Mapping does not take requests, got {request!r}")
        data = tuple(next(self.child_epoch_iterator))
        expected = self.add_sources or tuple(self.data_stream.sources)
        if self.mapping_accepts is dict:
            image = self.mapping(dict(zip(self.data_stream.sources, data)))
            missing = [source for source in expected if source not in image]
            if missing:
                raise ValueError(f"Mapping: the mapping's dict lacks the sources {missing}")
            image = tuple(image[source] for source in expected)
        else:
            image = self.mapping(data)
        if not isinstance(image, (tuple, list)) or len(image) != len(expected):
            got = f"{len(image)} items" if isinstance(image, (tuple, list)) else type(
                image).__name__
            raise ValueError(
                f"Mapping: the mapping must return a tuple with one item per source "
                f"{expected}, got {got}"
            )
        return data + tuple(image) if self.add_sources else tuple(image)


class SortMapping:
    """A mapping for :class:`Mapping` that sorts the examples of a batch.

    Parameters
    ----------
    key : callable
        Takes one example (a tuple with the data of every source) and returns the value
        to sort on.
    reverse : bool, optional
        Sort in decreasing order.

    Examples
    --------
    >>> from blocks.datasets import IndexableDataset, DataStream, SequentialScheme
    >>> data = IndexableDataset({'words': [[1, 2, 3], [4], [5, 6]], 'ids': np.arange(3)})
    >>> stream = DataStream(data, SequentialScheme(3, 3))
    >>> by_length = Mapping(stream, SortMapping(lambda example: len(example[0])))
    >>> words, ids = next(by_length.get_epoch_iterator())
    >>> words, ids.tolist()
    ([[4], [5, 6], [1, 2, 3]], [1, 2, 0])
    """

    def __init__(self, key, reverse=False):
        self.key = key
        self.reverse = reverse

    def __call__(self, batch):
        examples = sorted(zip(*batch), key=self.key, reverse=self.reverse)
        columns = list(zip(*examples)) if examples else [() for _ in batch]
        return tuple(_like(column, source_batch) for column, source_batch in zip(columns, batch))


def _like(column, source_batch):
    """The sorted `column` as an array if the source came as one, else as a list."""
    return stack_examples(column) if isinstance(source_batch, np.ndarray) else list(column)


class Filter(Transformer):
    """Keep only the items of a stream for which `predicate` is true.

    Parameters
    ----------
    data_stream : stream
    predicate : callable
        Takes an item (a tuple in the order of the stream's sources).

    Examples
    --------
    >>> from blocks.datasets import IndexableDataset, DataStream
    >>> stream = DataStream(IndexableDataset({'x': np.arange(6)}))
    >>> [int(x) for x, in Filter(stream, lambda data: data[0] % 2 == 0).get_epoch_iterator()]
    [0, 2, 4]
    """

    def __init__(self, data_stream, predicate, **kwargs):
        if not callable(predicate):
            raise TypeError(
                f"Filter: predicate must be callable, got {type(predicate).__name__}")
        super().__init__(data_stream, stream_produces_examples(data_stream), **kwargs)
        self.predicate = predicate

    def get_data(self, request=None):
        if request is not None:
            raise ValueError(f"Filter does not take requests, got {request!r}")
        while True:
            data = next(self.child_epoch_iterator)
            if self.predicate(data):
                return data
