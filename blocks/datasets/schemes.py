"""Iteration schemes: the sequence of requests a stream sends to its dataset in an epoch.

Request iterators are plain objects (not generators), so a stream in the middle of an
epoch pickles with its position, and a shuffled scheme pickles with its random state:
a checkpointed training resumes with the same batches.
"""

import numpy as np

from blocks.config import config

__all__ = [
    "IterationScheme", "BatchSizeScheme", "ConstantScheme", "BatchScheme", "IndexScheme",
    "SequentialScheme", "ShuffledScheme", "SequentialExampleScheme", "ShuffledExampleScheme",
]


class _ListIterator:
    """Iterates over a list of requests; picklable with its position."""

    def __init__(self, requests):
        self.requests = requests
        self.position = 0

    def __iter__(self):
        return self

    def __next__(self):
        if self.position >= len(self.requests):
            raise StopIteration
        self.position += 1
        return self.requests[self.position - 1]


class _ConstantIterator:
    """`batch_size` again and again; in total `num_examples` (last one partial) if given."""

    def __init__(self, batch_size, remaining):
        self.batch_size = batch_size
        self.remaining = remaining

    def __iter__(self):
        return self

    def __next__(self):
        if self.remaining is None:
            return self.batch_size
        if self.remaining <= 0:
            raise StopIteration
        size = min(self.batch_size, self.remaining)
        self.remaining -= size
        return size


def _check_positive_int(owner, name, value):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)


def _as_indices(owner, examples):
    """`examples` (a number of examples or a sequence of indices) as a list of ints."""
    if isinstance(examples, (int, np.integer)) and not isinstance(examples, bool):
        if examples < 0:
            raise ValueError(f"{owner}: the number of examples must be >= 0, got {examples}")
        return list(range(int(examples)))
    try:
        indices = [int(index) for index in examples]
    except (TypeError, ValueError):
        raise TypeError(
            f"{owner}: examples must be a number of examples or a sequence of indices, got "
            f"{examples!r}"
        ) from None
    return indices


def _as_rng(rng):
    """A numpy random generator: `rng` itself, one seeded with it, or the default seed's."""
    if rng is None:
        return np.random.RandomState(config.default_seed)
    if isinstance(rng, (int, np.integer)):
        return np.random.RandomState(int(rng))
    if isinstance(rng, (np.random.RandomState, np.random.Generator)):
        return rng
    raise TypeError(
        f"rng must be None, an integer seed, a RandomState or a Generator, got {rng!r}")


class IterationScheme:
    """A source of request iterators, one per epoch.

    Attributes
    ----------
    requests_examples : bool
        Whether each request asks for one example (rather than a batch).
    """

    requests_examples = False

    def get_request_iterator(self):
        """An iterator over the requests of one epoch."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_request_iterator")


class BatchSizeScheme(IterationScheme):
    """A scheme whose requests are batch sizes, for :class:`~blocks.datasets.Batch`."""


class ConstantScheme(BatchSizeScheme):
    """Request `batch_size` examples each time.

    Parameters
    ----------
    batch_size : int
    num_examples : int, optional
        Stop after this many examples in total (the last request may be smaller).
    times : int, optional
        Stop after this many requests. Without either, the requests never end.

    Examples
    --------
    >>> list(ConstantScheme(3, num_examples=7).get_request_iterator())
    [3, 3, 1]
    >>> list(ConstantScheme(2, times=2).get_request_iterator())
    [2, 2]
    """

    def __init__(self, batch_size, num_examples=None, times=None):
        owner = type(self).__name__
        self.batch_size = _check_positive_int(owner, "batch_size", batch_size)
        if num_examples is not None and times is not None:
            raise ValueError(f"{owner}: give num_examples or times, not both")
        if times is not None:
            num_examples = _check_positive_int(owner, "times", times) * self.batch_size
        elif num_examples is not None:
            num_examples = _check_positive_int(owner, "num_examples", num_examples)
        self.num_examples = num_examples

    def get_request_iterator(self):
        return _ConstantIterator(self.batch_size, self.num_examples)


class IndexScheme(IterationScheme):
    """Base of the schemes that request one example index at a time.

    Parameters
    ----------
    examples : int or sequence of int
        The number of examples (indices ``0 .. examples - 1``) or the indices themselves.
    """

    requests_examples = True

    def __init__(self, examples):
        self.indices = _as_indices(type(self).__name__, examples)


class BatchScheme(IterationScheme):
    """Base of the schemes that request lists of example indices.

    Parameters
    ----------
    examples : int or sequence of int
        The number of examples (indices ``0 .. examples - 1``) or the indices themselves.
    batch_size : int
        The size of the batches; the last one of an epoch may be smaller.
    """

    def __init__(self, examples, batch_size):
        owner = type(self).__name__
        self.indices = _as_indices(owner, examples)
        self.batch_size = _check_positive_int(owner, "batch_size", batch_size)

    def _batches(self, indices):
        size = self.batch_size
        return _ListIterator([indices[i:i + size] for i in range(0, len(indices), size)])


class SequentialScheme(BatchScheme):
    """Batches of consecutive examples, in order.

    Examples
    --------
    >>> list(SequentialScheme(5, batch_size=2).get_request_iterator())
    [[0, 1], [2, 3], [4]]
    """

    def get_request_iterator(self):
        return self._batches(list(self.indices))


class ShuffledScheme(BatchScheme):
    """Batches of examples in a random order, a new order every epoch.

    The order is drawn from `rng`, so a scheme created with the same seed gives the same
    batches, epoch after epoch.

    Parameters
    ----------
    examples, batch_size
        See :class:`BatchScheme`.
    rng : int, numpy RandomState or Generator, optional
        The random generator or its seed. Defaults to ``blocks.config.default_seed``.
    sorted_indices : bool, optional
        Sort the indices within each batch.

    Examples
    --------
    >>> scheme = ShuffledScheme(6, batch_size=4, rng=1)
    >>> epoch = list(scheme.get_request_iterator())
    >>> [len(batch) for batch in epoch], sorted(sum(epoch, []))
    ([4, 2], [0, 1, 2, 3, 4, 5])
    >>> epoch == list(ShuffledScheme(6, batch_size=4, rng=1).get_request_iterator())
    True
    """

    def __init__(self, examples, batch_size, rng=None, sorted_indices=False):
        super().__init__(examples, batch_size)
        self.rng = _as_rng(rng)
        self.sorted_indices = sorted_indices

    def get_request_iterator(self):
        order = self.rng.permutation(len(self.indices))
        indices = [self.indices[i] for i in order]
        batches = self._batches(indices)
        if self.sorted_indices:
            batches.requests = [sorted(batch) for batch in batches.requests]
        return batches


class SequentialExampleScheme(IndexScheme):
    """One example at a time, in order.

    Examples
    --------
    >>> list(SequentialExampleScheme(3).get_request_iterator())
    [0, 1, 2]
    """

    def get_request_iterator(self):
        return _ListIterator(list(self.indices))


class ShuffledExampleScheme(IndexScheme):
    """One example at a time, in a random order drawn anew every epoch.

    Parameters
    ----------
    examples
        See :class:`IndexScheme`.
    rng : int, numpy RandomState or Generator, optional
        The random generator or its seed. Defaults to ``blocks.config.default_seed``.

    Examples
    --------
    >>> sorted(ShuffledExampleScheme(4, rng=0).get_request_iterator())
    [0, 1, 2, 3]
    """

    def __init__(self, examples, rng=None):
        super().__init__(examples)
        self.rng = _as_rng(rng)

    def get_request_iterator(self):
        order = self.rng.permutation(len(self.indices))
        return _ListIterator([self.indices[i] for i in order])
