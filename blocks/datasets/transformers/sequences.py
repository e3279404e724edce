"""Transformers that cut sequences into windows: Window, NGrams (language modelling)."""

from blocks.datasets.transformers.base import Transformer, check_input_kind

__all__ = ["Window", "NGrams"]


class Window(Transformer):
    """Slide a source window and a target window along each sequence of a stream.

    Every position of a sequence where both windows fit gives one example ``(source,
    target)``; sequences too short for them are skipped.

    Parameters
    ----------
    offset : int
        Where the target window starts, relative to the start of the source window if
        `overlapping`, else to its end.
    source_window, target_window : int
        The windows' lengths.
    overlapping : bool
    data_stream : stream
        A stream of examples with one source, each a sequence that supports slicing.
    target_source : str, optional
        The name of the added source. Defaults to ``'targets'``.

    Examples
    --------
    >>> from blocks.datasets import IterableDataset, DataStream
    >>> stream = DataStream(IterableDataset([[1, 2, 3, 4]]))
    >>> list(Window(1, 2, 2, True, stream).get_epoch_iterator())
    [([1, 2], [2, 3]), ([2, 3], [3, 4])]
    """

    def __init__(self, offset, source_window, target_window, overlapping, data_stream,
                 target_source="targets", **kwargs):
        check_input_kind(self, data_stream, expects_examples=True)
        if len(data_stream.sources) != 1:
            raise ValueError(f"{type(self).__name__} expects a stream with only one source, "
                             f"got {tuple(data_stream.sources)}")
        super().__init__(data_stream, produces_examples=True, **kwargs)
        self.sources = tuple(data_stream.sources) + (target_source,)
        self.offset = offset
        self.source_window = source_window
        self.target_window = target_window
        self.overlapping = overlapping
        self.sentence = []
        self._start_windows()

    def _target_start(self):
        return self.index + (0 if self.overlapping else self.source_window) + self.offset

    def _start_windows(self):
        self.index = 0
        # A negative offset can put the target before the sequence: start later.
        self.index = -min(0, self._target_start())

    def _end(self):
        return max(self.index + self.source_window, self._target_start() + self.target_window)

    def get_data(self, request=None):
        if request is not None:
            raise ValueError(f"{type(self).__name__} does not take requests, got {request!r}")
        while self._end() > len(self.sentence):
            (self.sentence,) = next(self.child_epoch_iterator)
            self._start_windows()
        target_start = self._target_start()
        source = self.sentence[self.index:self.index + self.source_window]
        target = self.sentence[target_start:target_start + self.target_window]
        self.index += 1
        return (source, target)

    def get_epoch_iterator(self, as_dict=False):
        self.sentence = []
        self._start_windows()
        return super().get_epoch_iterator(as_dict=as_dict)


class NGrams(Window):
    """The n-grams of each sequence of a stream, each with the element that follows it.

    Parameters
    ----------
    ngram_order : int
        The n-grams' length.
    data_stream : stream
        A stream of examples with one source, each a sequence (e.g. of word indices).
    target_source : str, optional
        Defaults to ``'targets'``.

    Examples
    --------
    >>> from blocks.datasets import IterableDataset, DataStream
    >>> stream = DataStream(IterableDataset([[1, 2, 3, 4], [5, 6]]))
    >>> list(NGrams(2, stream).get_epoch_iterator())
    [([1, 2], 3), ([2, 3], 4)]
    """

    def __init__(self, ngram_order, *args, **kwargs):
        super().__init__(0, ngram_order, 1, False, *args, **kwargs)

    def get_data(self, request=None):
        source, target = super().get_data(request)
        return (source, target[0])
