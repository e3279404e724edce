"""Transformers: streams that change the data of another stream on the fly."""

import numpy as np
import pytensor

from blocks.datasets.schemes import BatchSizeScheme
from blocks.datasets.streams import AbstractDataStream

__all__ = ["Transformer", "Mapping", "Filter", "Batch", "Padding", "ForceFloatX"]


class Transformer(AbstractDataStream):
    """A stream that reads another stream (`data_stream`) and transforms its data.

    A subclass overrides :meth:`transform` (one item of the child stream at a time) or
    :meth:`get_data`; it may override :attr:`sources`. ``reset``, ``next_epoch`` and
    ``close`` are passed on to the child stream.

    Parameters
    ----------
    data_stream : stream
        Any object with Fuel's stream interface.
    """

    def __init__(self, data_stream, **kwargs):
        missing = [name for name in ("sources", "get_epoch_iterator")
                   if not hasattr(data_stream, name)]
        if missing:
            raise TypeError(
                f"{type(self).__name__}: data_stream must have Fuel's stream interface; "
                f"{type(data_stream).__name__} lacks {missing}"
            )
        kwargs.setdefault("axis_labels", getattr(data_stream, "axis_labels", None))
        super().__init__(**kwargs)
        self.data_stream = data_stream
        self.child_epoch_iterator = None

    @property
    def sources(self):
        return tuple(self.data_stream.sources)

    @property
    def produces_examples(self):
        return getattr(self.data_stream, "produces_examples", False)

    def transform(self, data):
        """Transform one item (a tuple in the order of the child's sources)."""
        return data

    def get_data(self, request=None):
        if request is not None:
            raise ValueError(f"{type(self).__name__} does not take requests, got {request!r}")
        return self.transform(next(self.child_epoch_iterator))

    def reset(self):
        self.data_stream.reset()

    def next_epoch(self):
        self.data_stream.next_epoch()

    def close(self):
        self.data_stream.close()

    def get_epoch_iterator(self, as_dict=False):
        self.child_epoch_iterator = self.data_stream.get_epoch_iterator()
        return super().get_epoch_iterator(as_dict=as_dict)


class Mapping(Transformer):
    """Apply a function to every item of a stream.

    Parameters
    ----------
    data_stream : stream
    mapping : callable
        Takes a tuple (the data of every source) and returns a tuple: the new data of
        every source, or, with `add_sources`, the data of the added sources. Use a
        module-level function (not a lambda) if the stream is to be pickled.
    add_sources : tuple of str, optional
        Names of sources the mapping adds; without it, the mapping replaces the data.

    Examples
    --------
    >>> from blocks.datasets import IndexableDataset, DataStream
    >>> stream = DataStream(IndexableDataset({'x': np.array([1, 2, 3])}))
    >>> squared = Mapping(stream, lambda data: (data[0] ** 2,), add_sources=('x2',))
    >>> squared.sources
    ('x', 'x2')
    >>> [(int(x), int(x2)) for x, x2 in squared.get_epoch_iterator()]
    [(1, 1), (2, 4), (3, 9)]
    """

    def __init__(self, data_stream, mapping, add_sources=None, **kwargs):
        if not callable(mapping):
            raise TypeError(f"Mapping: mapping must be callable, got {type(mapping).__name__}")
        super().__init__(data_stream, **kwargs)
        self.mapping = mapping
        if isinstance(add_sources, str):
            add_sources = (add_sources,)
        self.add_sources = tuple(add_sources) if add_sources else ()
        clashes = [source for source in self.add_sources if source in data_stream.sources]
        if clashes:
            raise ValueError(f"Mapping: add_sources {clashes} are already sources of the "
                             f"stream {tuple(data_stream.sources)}")

    @property
    def sources(self):
        return tuple(self.data_stream.sources) + self.add_sources

    def transform(self, data):
        image = self.mapping(data)
        expected = self.add_sources or tuple(self.data_stream.sources)
        if not isinstance(image, (tuple, list)) or len(image) != len(expected):
            got = f"{len(image)} items" if isinstance(image, (tuple, list)) else type(
                image).__name__
            raise ValueError(
                f"Mapping: the mapping must return a tuple with one item per source "
                f"{expected}, got {got}"
            )
        return tuple(data) + tuple(image) if self.add_sources else tuple(image)


class Filter(Transformer):
    """Keep only the items of a stream for which `predicate` is true.

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
        super().__init__(data_stream, **kwargs)
        self.predicate = predicate

    def get_data(self, request=None):
        if request is not None:
            raise ValueError(f"Filter does not take requests, got {request!r}")
        while True:
            data = next(self.child_epoch_iterator)
            if self.predicate(data):
                return data


def _stack(examples):
    """Examples as one array if their shapes agree, else as an object array of them."""
    arrays = [np.asarray(example) for example in examples]
    if len({array.shape for array in arrays}) <= 1:
        return np.stack(arrays) if arrays else np.asarray(arrays)
    batch = np.empty(len(arrays), dtype=object)
    batch[:] = arrays
    return batch


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
        if not isinstance(iteration_scheme, BatchSizeScheme):
            raise TypeError(
                f"Batch: iteration_scheme must be a BatchSizeScheme such as ConstantScheme, "
                f"got {type(iteration_scheme).__name__}"
            )
        if strictness not in (0, 1, 2):
            raise ValueError(f"Batch: strictness must be 0, 1 or 2, got {strictness!r}")
        super().__init__(data_stream, iteration_scheme=iteration_scheme, **kwargs)
        self.strictness = strictness

    @property
    def produces_examples(self):
        return False

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
        return tuple(_stack(source) for source in zip(*examples))


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
        super().__init__(data_stream, **kwargs)
        sources = tuple(data_stream.sources)
        if mask_sources is None:
            mask_sources = sources
        elif isinstance(mask_sources, str):
            mask_sources = (mask_sources,)
        unknown = [source for source in mask_sources if source not in sources]
        if unknown:
            raise ValueError(
                f"Padding: unknown mask_sources {unknown}; the stream's sources are "
                f"{list(sources)}")
        self.mask_sources = tuple(mask_sources)
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

    def transform(self, data):
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


class ForceFloatX(Transformer):
    """Cast the floating-point sources to PyTensor's ``floatX``.

    Examples
    --------
    >>> from blocks.datasets import IndexableDataset, DataStream
    >>> stream = DataStream(IndexableDataset({'x': np.ones(2, dtype='float16'),
    ...                                       'y': np.array([1, 2])}))
    >>> x, y = next(ForceFloatX(stream).get_epoch_iterator())
    >>> x.dtype == pytensor.config.floatX, y.dtype.kind
    (True, 'i')
    """

    def transform(self, data):
        floatx = pytensor.config.floatX
        return tuple(
            np.asarray(value, dtype=floatx)
            if np.asarray(value).dtype.kind == "f" else value
            for value in data)
