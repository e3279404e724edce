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
    "ConcatenatedScheme", "cross_validation",
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


class _ChainIterator:
    """The requests of several request iterators, one after the other; picklable."""

    def __init__(self, iterators):
        self.iterators = list(iterators)

    def __iter__(self):
        return self

    def __next__(self):
        while self.iterators:
            try:
                return next(self.iterators[0])
            except StopIteration:
                self.iterators.pop(0)
        raise StopIteration


class ConcatenatedScheme(IterationScheme):
    """The requests of several schemes, one scheme after the other, in every epoch.

    Useful to go through several subsets of a dataset in a given order.

    Parameters
    ----------
    schemes : sequence of IterationScheme
        All of them must request the same kind of data (examples or batches).

    Examples
    --------
    >>> scheme = ConcatenatedScheme([SequentialScheme([4, 5], 2), SequentialScheme(3, 2)])
    >>> list(scheme.get_request_iterator())
    [[4, 5], [0, 1], [2]]
    """

    def __init__(self, schemes):
        self.schemes = list(schemes)
        if not self.schemes:
            raise ValueError("ConcatenatedScheme: needs at least one scheme")
        kinds = {scheme.requests_examples for scheme in self.schemes}
        if len(kinds) != 1:
            raise ValueError(
                "ConcatenatedScheme: all schemes must produce the same type of requests "
                "(batches or examples), got "
                f"{[(type(s).__name__, s.requests_examples) for s in self.schemes]}")

    @property
    def requests_examples(self):
        return self.schemes[0].requests_examples

    def get_request_iterator(self):
        return _ChainIterator(scheme.get_request_iterator() for scheme in self.schemes)


def cross_validation(scheme_class, num_examples, num_folds, strict=True, **kwargs):
    """The (training, validation) schemes of each fold of a cross-validation.

    Fold ``i`` validates on the examples ``num_examples * i // num_folds`` up to
    ``num_examples * (i + 1) // num_folds`` and trains on all the others, in order.

    Parameters
    ----------
    scheme_class : subclass of IndexScheme or BatchScheme
        Called with the fold's example indices and `kwargs` (e.g. ``batch_size``).
    num_examples : int
    num_folds : int
    strict : bool, optional
        Require `num_examples` to be a multiple of `num_folds` (validation sets of equal
        size). With False, each fold also gives the size of its validation set.

    Yields
    ------
    tuple
        ``(train_scheme, valid_scheme)``, or with ``strict=False``
        ``(train_scheme, valid_scheme, valid_size)``.

    Examples
    --------
    >>> folds = list(cross_validation(SequentialScheme, 6, 3, batch_size=3))
    >>> [list(valid.get_request_iterator()) for _, valid in folds]
    [[[0, 1]], [[2, 3]], [[4, 5]]]
    >>> list(folds[1][0].get_request_iterator())
    [[0, 1, 4], [5]]
    """
    num_examples = _check_positive_int("cross_validation", "num_examples", num_examples)
    num_folds = _check_positive_int("cross_validation", "num_folds", num_folds)
    if strict and num_examples % num_folds:
        raise ValueError(
            f"cross_validation: {num_examples} examples are not divisible in {num_folds} "
            f"evenly-sized folds; pass strict=False to allow folds of unequal sizes")
    for fold in range(num_folds):
        begin = num_examples * fold // num_folds
        end = num_examples * (fold + 1) // num_folds
        train = scheme_class(list(range(begin)) + list(range(end, num_examples)), **kwargs)
        valid = scheme_class(list(range(begin, end)), **kwargs)
        yield (train, valid) if strict else (train, valid, end - begin)
