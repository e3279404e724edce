"""MultiProcessing: read a stream in a background process, ahead of its consumer."""

import multiprocessing
import traceback
import weakref

from blocks.datasets.transformers.base import Transformer, stream_produces_examples

__all__ = ["MultiProcessing"]

_DATA, _END_OF_EPOCH, _ERROR = "data", "end of epoch", "error"


def _produce(data_stream, queue):
    """The background process: put every item of every epoch of `data_stream` on `queue`.

    Runs until the process is terminated; blocks while the queue is full. An exception
    is sent over as its formatted traceback, and ends the process.
    """
    try:
        while True:
            for data in data_stream.get_epoch_iterator():
                queue.put((_DATA, data))
            queue.put((_END_OF_EPOCH, None))
    except BaseException:  # noqa: B036 -- whatever happens is reported to the consumer
        queue.put((_ERROR, traceback.format_exc()))


def _terminate(process):
    process.terminate()
    process.join()


class MultiProcessing(Transformer):
    """Read the wrapped stream in a separate process and keep up to `max_store` items.

    A background process (started with the first epoch iterator) goes through the
    wrapped stream epoch after epoch and puts its items on a bounded queue; this stream
    takes them off. Reading and transforming data (decoding, augmentation, padding) then
    overlaps with training, on another core. Items travel between the processes
    pickled, which costs time: worth it when preparing a batch is slow compared with
    pickling it.

    The process is forked where the platform allows (so the stream need not be
    picklable, lambdas included), else spawned. It stops with :meth:`close`, or with
    the main process. An exception in the background process is raised here as a
    ``RuntimeError`` carrying its traceback.

    Parameters
    ----------
    data_stream : stream
    max_store : int, optional
        The most items kept waiting in the queue. Defaults to 100.

    Notes
    -----
    The background process runs one epoch ahead: when a consumer leaves an epoch
    before its end, the next epoch iterator first discards what is left of it. Pickling
    this stream (in a checkpoint) keeps the wrapped stream as it was in this process,
    not the background process's position; after unpickling a new process starts from
    the wrapped stream's next epoch.

    Examples
    --------
    >>> import numpy as np
    >>> from blocks.datasets import IndexableDataset, DataStream, SequentialScheme
    >>> stream = DataStream(IndexableDataset({'x': np.arange(5)}), SequentialScheme(5, 2))
    >>> background = MultiProcessing(stream, max_store=2)
    >>> [x.tolist() for x, in background.get_epoch_iterator()]
    [[0, 1], [2, 3], [4]]
    >>> background.process.pid != 0
    True
    >>> background.close()
    """

    def __init__(self, data_stream, max_store=100, **kwargs):
        if not isinstance(max_store, int) or max_store <= 0:
            raise ValueError(f"MultiProcessing: max_store must be a positive integer, got "
                             f"{max_store!r}")
        super().__init__(data_stream, stream_produces_examples(data_stream), **kwargs)
        self.max_store = max_store
        self.process = None
        self.queue = None
        self._epoch_finished = True

    def _start(self):
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self.queue = context.Queue(self.max_store)
        self.process = context.Process(target=_produce, args=(self.data_stream, self.queue),
                                       daemon=True)
        self.process.start()
        # A stream dropped without close() does not leave its process behind.
        self._finalizer = weakref.finalize(self, _terminate, self.process)

    def _next_item(self):
        kind, payload = self.queue.get()
        if kind == _ERROR:
            self._epoch_finished = True
            raise RuntimeError(
                f"MultiProcessing: the background process reading the stream failed:\n"
                f"{payload}")
        return kind, payload

    def get_epoch_iterator(self, as_dict=False):
        if self.process is None:
            self._start()
        while not self._epoch_finished:  # drop what is left of an abandoned epoch
            kind, _ = self._next_item()
            self._epoch_finished = kind == _END_OF_EPOCH
        self._epoch_finished = False
        # The background process reads the wrapped stream: nothing is read here.
        return super(Transformer, self).get_epoch_iterator(as_dict=as_dict)

    def get_data(self, request=None):
        if request is not None:
            raise ValueError(f"MultiProcessing does not take requests, got {request!r}")
        if self._epoch_finished:
            raise StopIteration
        kind, data = self._next_item()
        if kind == _END_OF_EPOCH:
            self._epoch_finished = True
            raise StopIteration
        return data

    def reset(self):
        """Restart: stop the background process; the next epoch starts a new one."""
        self._stop()
        self.data_stream.reset()

    def next_epoch(self):
        """Nothing to do: the background process moves on to the next epoch itself."""

    def close(self):
        """Stop the background process and close the wrapped stream."""
        self._stop()
        self.data_stream.close()

    def _stop(self):
        if self.process is not None:
            self._finalizer.detach()
            _terminate(self.process)
            self.queue.close()
        self.process, self.queue = None, None
        self._epoch_finished = True

    def __getstate__(self):
        state = self.__dict__.copy()
        state.update(process=None, queue=None, _epoch_finished=True)
        state.pop("_finalizer", None)
        return state
