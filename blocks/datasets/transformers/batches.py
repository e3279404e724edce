"""Transformers between examples and batches: Batch, Unpack, Cache, Padding."""

import numpy as np
import pytensor

from blocks.datasets.schemes import BatchSizeScheme
from blocks.datasets.transformers.base import (
    Transformer,
    check_input_kind,
    select_sources,
    stack_examples,
)

__all__ = ["Batch", "Unpack", "Cache", "Padding"]


class Batch(Transformer):
    """Group the examples of a stream into batches.

    Examples of equal shapes are stacked into an array; examples of different shapes
    (variable-length sequences) make an object array, for :class:`Padding`.

    Parameters
    ----------
    data_stream : stream
        A stream of examples.
    iteration_scheme : BatchSizeScheme
        The batch sizes, e.g. ``ConstantScheme(32)``.
    strictness : {0, 1, 2}, optional
        What to do with a last batch smaller than requested: 0 yield it (default), 1 drop
        it, 2 raise ``ValueError``.

    Examples
    --------
    >>> from blocks.datasets import IndexableDataset, DataStream, ConstantScheme
    >>> stream = DataStream(IndexableDataset({'x': np.arange(5)}))
    >>> [x.tolist() for x, in Batch(stream, ConstantScheme(2)).get_epoch_iterator()]
    [[0, 1], [2, 3], [4]]
    >>> [x.tolist() for x, in Batch(stream, ConstantScheme(2), strictness=1)
    ...  .get_epoch_iterator()]
    [[0, 1], [2, 3]]
    """

    def __init__(self, data_stream, iteration_scheme, strictness=0, **kwargs):
        check_input_kind(self, data_stream, expects_examples=True)
        if not isinstance(iteration_scheme, BatchSizeScheme):
            raise ValueError(
                f"Batch: iteration_scheme must be a BatchSizeScheme such as ConstantScheme, "
                f"got {type(iteration_scheme).__name__}"
            )
        if strictness not in (0, 1, 2):
            raise ValueError(f"Batch: strictness must be 0, 1 or 2, got {strictness!r}")
        if getattr(data_stream, "axis_labels", None):
            kwargs.setdefault("axis_labels", {
                source: None if labels is None else ("batch",) + tuple(labels)
                for source, labels in data_stream.axis_labels.items()})
        super().__init__(data_stream, iteration_scheme=iteration_scheme, **kwargs)
        self.strictness = strictness

    def get_data(self, request=None):
        if request is None:
            raise ValueError("Batch: get_data needs a request (a batch size)")
        examples = []
        for _ in range(request):
            try:
                examples.append(next(self.child_epoch_iterator))
            except StopIteration:
                break
        if not examples or (len(examples) < request and self.strictness == 1):
            raise StopIteration
        if len(examples) < request and self.strictness == 2:
            raise ValueError(
                f"Batch: the stream ran out of examples: {len(examples)} left for a batch of "
                f"{request} (strictness=2)"
            )
        return tuple(stack_examples(source) for source in zip(*examples))


class Unpack(Transformer):
    """Turn a stream of batches into a stream of their examples (the inverse of Batch).

    Examples
    --------
    >>> from blocks.datasets import IndexableDataset, DataStream, SequentialScheme
    >>> stream = DataStream(IndexableDataset({'x': np.arange(3)}), SequentialScheme(3, 2))
    >>> [int(x) for x, in Unpack(stream).get_epoch_iterator()]
    [0, 1, 2]
    """

    def __init__(self, data_stream, **kwargs):
        check_input_kind(self, data_stream, expects_examples=False)
        if getattr(data_stream, "axis_labels", None):
            kwargs.setdefault("axis_labels", {
                source: None if not labels else tuple(labels[1:])
                for source, labels in data_stream.axis_labels.items()})
        super().__init__(data_stream, produces_examples=True, **kwargs)
        self.data = None

    def get_data(self, request=None):
        if request is not None:
            raise ValueError(f"Unpack does not take requests, got {request!r}")
        while True:
            if self.data is None:
                self.data = zip(*next(self.child_epoch_iterator))
            try:
                return next(self.data)
            except StopIteration:
                self.data = None

    def get_epoch_iterator(self, as_dict=False):
        self.data = None
        return super().get_epoch_iterator(as_dict=as_dict)


class Cache(Transformer):
    """Serve smaller batches out of the large chunks a stream reads.

    Chunks of the wrapped stream are kept in a cache, from which each request (a batch
    size) is served; the cache is refilled when it holds too few examples, and emptied
    at the start of every epoch. The last batch of an epoch may be smaller.

    Parameters
    ----------
    data_stream : stream
        A stream of batches (the chunks).
    iteration_scheme : BatchSizeScheme
        The sizes of the batches to serve, e.g. ``ConstantScheme(32)``.

    Attributes
    ----------
    cache : list of lists
        The cached examples of every source.

    Examples
    --------
    >>> from blocks.datasets import (IndexableDataset, DataStream, SequentialScheme,
    ...                              ConstantScheme)
    >>> chunks = DataStream(IndexableDataset({'x': np.arange(7)}), SequentialScheme(7, 5))
    >>> [x.tolist() for x, in Cache(chunks, ConstantScheme(2)).get_epoch_iterator()]
    [[0, 1], [2, 3], [4, 5], [6]]
    """

    def __init__(self, data_stream, iteration_scheme, **kwargs):
        if not isinstance(iteration_scheme, BatchSizeScheme):
            raise ValueError(
                f"Cache: iteration_scheme must be a BatchSizeScheme such as ConstantScheme, "
                f"got {type(iteration_scheme).__name__}")
        super().__init__(data_stream, iteration_scheme=iteration_scheme, **kwargs)
        self.cache = [[] for _ in self.sources]

    def get_data(self, request=None):
        if request is None:
            raise ValueError("Cache: get_data needs a request (a batch size)")
        while len(self.cache[0]) < request and self._fill():
            pass
        if not self.cache[0]:
            raise StopIteration
        data = []
        for i, cached in enumerate(self.cache):
            data.append(stack_examples(cached[:request]))
            self.cache[i] = cached[request:]
        return tuple(data)

    def _fill(self):
        """Add the next chunk to the cache; False at the end of the epoch."""
        try:
            chunk = next(self.child_epoch_iterator)
        except StopIteration:
            return False
        for cached, source_chunk in zip(self.cache, chunk):
            cached.extend(source_chunk)
        return True

    def get_epoch_iterator(self, as_dict=False):
        self.cache = [[] for _ in self.sources]
        return super().get_epoch_iterator(as_dict=as_dict)


class Padding(Transformer):
    """Pad the variable-length sequences of each batch to the longest, and add masks.

    For every padded source ``x`` a source ``x_mask`` follows it: 1 where the sequence
    has data, 0 in the padding. By default the padded arrays are batch-major,
    ``(batch, time, ...)``, and masks ``(batch, time)`` (as in Fuel); Blocks' recurrent
    bricks take time-major sequences, which ``time_major=True`` gives:
    ``(time, batch, ...)`` and masks ``(time, batch)``.

    Parameters
    ----------
    data_stream : stream
        A stream of batches, each source a list (or object array) of sequences whose
        first axis is time.
    mask_sources : tuple of str, optional
        The sources to pad. Defaults to all of them.
    mask_dtype : str, optional
        The dtype of the masks. Defaults to ``floatX``.
    time_major : bool, optional
        Put time first in the padded sources and masks. Defaults to False.

    Examples
    --------
    >>> from blocks.datasets import IndexableDataset, DataStream, SequentialScheme
    >>> words = [[1, 2, 3], [4], [5, 6]]
    >>> stream = DataStream(IndexableDataset({'words': words}), SequentialScheme(3, 3))
    >>> padded = Padding(stream)
    >>> padded.sources
    ('words', 'words_mask')
    >>> words, mask = next(padded.get_epoch_iterator())
    >>> words
    array([[1, 2, 3],
           [4, 0, 0],
           [5, 6, 0]])
    >>> mask.astype(int)
    array([[1, 1, 1],
           [1, 0, 0],
           [1, 1, 0]])
    >>> words, mask = next(Padding(stream, time_major=True).get_epoch_iterator())
    >>> words.shape, mask.shape
    ((3, 3), (3, 3))
    """

    def __init__(self, data_stream, mask_sources=None, mask_dtype=None, time_major=False,
                 **kwargs):
        check_input_kind(self, data_stream, expects_examples=False)
        super().__init__(data_stream, produces_examples=False, **kwargs)
        self.mask_sources = select_sources(self, "mask_sources", mask_sources,
                                           data_stream.sources)
        self.mask_dtype = mask_dtype or pytensor.config.floatX
        self.time_major = time_major

    @property
    def sources(self):
        sources = []
        for source in self.data_stream.sources:
            sources.append(source)
            if source in self.mask_sources:
                sources.append(source + "_mask")
        return tuple(sources)

    def transform_batch(self, data):
        result = []
        for source, batch in zip(self.data_stream.sources, data):
            result.append(batch)
            if source in self.mask_sources:
                result[-1:] = self._pad(source, batch)
        return tuple(result)

    def _pad(self, source, batch):
        sequences = [np.asarray(sequence) for sequence in batch]
        if not sequences:
            raise ValueError(f"Padding: source {source!r} has an empty batch")
        for i, sequence in enumerate(sequences):
            if sequence.ndim == 0:
                raise ValueError(
                    f"Padding: source {source!r}: example {i} is a scalar; sequences need a "
                    f"time axis (is this a stream of batches?)")
        trailing = {sequence.shape[1:] for sequence in sequences}
        if len(trailing) > 1:
            raise ValueError(
                f"Padding: source {source!r}: the sequences' shapes after the time axis "
                f"differ: {sorted(trailing)}")
        lengths = [len(sequence) for sequence in sequences]
        dtype = np.result_type(*sequences)
        padded = np.zeros((len(sequences), max(lengths)) + sequences[0].shape[1:], dtype=dtype)
        mask = np.zeros((len(sequences), max(lengths)), dtype=self.mask_dtype)
        for i, (sequence, length) in enumerate(zip(sequences, lengths)):
            padded[i, :length] = sequence
            mask[i, :length] = 1
        if self.time_major:
            padded, mask = np.ascontiguousarray(padded.swapaxes(0, 1)), np.ascontiguousarray(
                mask.T)
        return [padded, mask]
