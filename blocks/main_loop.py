"""The main loop: feeds batches to a training algorithm and calls the extensions.

A run of :meth:`MainLoop.run` goes:

1. ``before_training`` extensions, then ``algorithm.initialize()`` (a new run), or
   ``on_resumption`` extensions (a main loop that has trained before, e.g. loaded from a
   checkpoint);
2. for every epoch: ``before_epoch``; for every batch of the epoch iterator
   ``data_stream.get_epoch_iterator(as_dict=True)``: ``before_batch``,
   ``algorithm.process_batch(batch)``, ``after_batch``; then ``after_epoch``;
3. ``after_training`` when training finishes: an extension requested it (e.g.
   :class:`~blocks.extensions.FinishAfter`) or the data stream has no more epochs
   (``get_epoch_iterator`` raised ``StopIteration``).

Interruption
------------
While :meth:`MainLoop.run` runs, it handles SIGINT (Ctrl-C) and SIGTERM: the batch in
flight finishes (with its ``after_batch`` extensions), the ``on_interrupt`` extensions
run (a :class:`~blocks.extensions.saveload.Checkpoint` writes a checkpoint by default),
and :meth:`~MainLoop.run` returns normally with ``status['training_interrupted']`` set;
``after_training`` extensions do not run. A second Ctrl-C before that raises
``KeyboardInterrupt`` at once. Setting ``status['epoch_interrupt_received']`` (e.g. from
an extension) interrupts the same way at the end of the current epoch. The previous
signal handlers are restored when :meth:`~MainLoop.run` returns or raises.

Resumption
----------
Running a main loop again after it stopped (interrupted, finished, or loaded from a
checkpoint) resumes training: the ``on_resumption`` extensions run instead of
``before_training``, and the counters in the status go on. Where training stopped in
the middle of an epoch, the epoch iterator decides:

- an epoch iterator that pickles (those of :mod:`blocks.datasets` and Fuel do) is saved
  in checkpoints with the data stream, and the resumed run continues the interrupted
  epoch at the next batch;
- a generator does not pickle: it is left out of checkpoints, and a resumed run restarts
  the interrupted epoch from its beginning with a new epoch iterator (the batches already
  processed in it are processed again; ``epochs_done`` is unchanged, ``before_epoch``
  runs again).

A run stopped between epochs continues with the next epoch. With a data stream whose
order is deterministic (e.g. :class:`~blocks.datasets.ShuffledScheme` with a seed), a run
resumed from a checkpoint ends with the same parameters as an uninterrupted run.
``algorithm.initialize()`` is not called again on resumption: an algorithm must work
after unpickling (:class:`~blocks.algorithms.GradientDescent` recompiles its function at
its first batch).
"""

import inspect
import logging
import signal
import threading
import traceback

from blocks.config import config
from blocks.extensions import CallbackName
from blocks.log import create_log
from blocks.utils.profile import Profile, Timer

__all__ = ["MainLoop", "TrainingFinish"]

logger = logging.getLogger(__name__)

_INTERRUPT_MESSAGE = (
    "Interrupt received: the current batch will finish, the on_interrupt extensions "
    "will run (a checkpoint is written if a Checkpoint extension is used), then training "
    "stops. Press Ctrl-C again to abort at once."
)


class TrainingFinish(Exception):
    """Raised (by the main loop or an extension) to end training."""


def _require(obj, what, methods):
    missing = [method for method in methods if not callable(getattr(obj, method, None))]
    if missing:
        raise TypeError(
            f"MainLoop: the {what} must have the method(s) {', '.join(methods)}; "
            f"{type(obj).__name__} lacks {', '.join(missing)}"
        )


class MainLoop:
    """The training loop: batches from a data stream, an algorithm, and extensions.

    Parameters
    ----------
    algorithm : object
        The training algorithm, e.g. :class:`~blocks.algorithms.GradientDescent`: it
        has ``initialize()`` and ``process_batch(batch)`` (batch: a dict from source
        names to arrays).
    data_stream : object
        Anything with Fuel's stream interface: ``get_epoch_iterator(as_dict=True)``
        returning an iterator of batches (and ``sources``, used to name the parts of
        batches given as tuples).
    model : :class:`~blocks.model.Model`, optional
        The model trained; checkpoints name its parameters hierarchically.
    log : :class:`~blocks.log.TrainingLogBase`, optional
        A log to continue; a new one by default.
    log_backend : str, optional
        Backend of the new log: ``'python'`` (in memory) or ``'sqlite'``;
        ``blocks.config.log_backend`` by default. Not allowed with `log`.
    extensions : list of :class:`~blocks.extensions.TrainingExtension`, optional
        ``None`` entries are left out.

    Attributes
    ----------
    status : dict
        ``log.status``: ``iterations_done``, ``epochs_done``, ``epoch_started``,
        ``training_started``, ``batch_interrupt_received``,
        ``epoch_interrupt_received``, ``training_finished``, ``training_interrupted``...
    epoch_iterator : iterator or None
        The iterator of the current epoch.
    profile : :class:`~blocks.utils.profile.Profile`
        Seconds spent initializing the algorithm, reading data and training (see
        :mod:`blocks.utils.profile`); :class:`~blocks.extensions.Timing` reports them.

    Examples
    --------
    >>> from blocks.extensions import FinishAfter
    >>> class Counter:
    ...     seen = 0
    ...     def initialize(self):
    ...         pass
    ...     def process_batch(self, batch):
    ...         self.seen += len(batch['x'])
    >>> class Stream:
    ...     sources = ('x',)
    ...     def get_epoch_iterator(self, as_dict=False):
    ...         return iter([{'x': [1, 2]}, {'x': [3]}])
    >>> main_loop = MainLoop(Counter(), Stream(),
    ...                      extensions=[FinishAfter(after_n_epochs=2)])
    >>> main_loop.run()
    >>> main_loop.status['iterations_done'], main_loop.status['epochs_done']
    (4, 2)
    >>> main_loop.algorithm.seen
    6
    """

    def __init__(self, algorithm, data_stream, model=None, log=None, log_backend=None,
                 extensions=None):
        _require(algorithm, "algorithm", ["initialize", "process_batch"])
        _require(data_stream, "data stream", ["get_epoch_iterator"])
        if log is None:
            log = create_log(log_backend)
        elif log_backend is not None:
            raise ValueError("MainLoop: give either a log or a log_backend, not both")
        self.algorithm = algorithm
        self.data_stream = data_stream
        self.model = model
        self.log = log
        # Blocks scripts build the list with conditionals (``[..., Checkpoint(...) if
        # save else None]``): None entries are skipped.
        self.extensions = [extension for extension in extensions or [] if extension is not None]
        for extension in self.extensions:
            if not callable(getattr(extension, "dispatch", None)):
                raise TypeError(
                    f"MainLoop: extensions must be TrainingExtension instances; "
                    f"received {extension!r}"
                )
            extension.main_loop = self
        self.epoch_iterator = None
        self.profile = Profile()
        self._original_handlers = None
        self._interrupted = False
        self._batches_this_epoch = 0

    # Access

    @property
    def status(self):
        """The training status, ``log.status``."""
        return self.log.status

    @property
    def current_row(self):
        """The log row of the current iteration, ``log.current_row``."""
        return self.log.current_row

    @property
    def iteration_state(self):
        """The pair ``(data_stream, epoch_iterator)``."""
        return self.data_stream, self.epoch_iterator

    @iteration_state.setter
    def iteration_state(self, value):
        self.data_stream, self.epoch_iterator = value

    def find_extension(self, name):
        """The extension called `name`; ``ValueError`` unless exactly one matches."""
        found = [extension for extension in self.extensions if extension.name == name]
        if len(found) != 1:
            names = ", ".join(repr(extension.name) for extension in self.extensions)
            raise ValueError(
                f"MainLoop: {'no' if not found else len(found)} extension(s) named {name!r}; "
                f"the extensions are: {names or 'none'}"
            )
        return found[0]

    def __setstate__(self, state):
        self.__dict__.update(state)
        # Main loops pickled before the profile existed.
        self.__dict__.setdefault("profile", Profile())

    def __getstate__(self):
        state = self.__dict__.copy()
        # Generators do not pickle: a resumed run restarts their epoch (see "Resumption").
        if inspect.isgenerator(self.epoch_iterator):
            state["epoch_iterator"] = None
        state["_original_handlers"] = None
        return state

    # Running

    def run(self):
        """Train until an extension asks to finish, the data runs out, or an interrupt.

        Exceptions raised during training are passed to the ``on_error`` extensions and
        re-raised.
        """
        for extension in self.extensions:
            extension.main_loop = self
        self._interrupted = False
        # As in Blocks the sections are always timed (Timing reports them); the
        # `profile` setting only prints the report at the end.
        if getattr(self, "profile", None) is None:
            self.profile = Profile()
        # A main loop pickled during a run holds the sections open at that time.
        self.profile.current = []
        self._install_signal_handlers()
        try:
            with self._timer("training"):
                self._train()
        except Exception as error:
            self._restore_signal_handlers()
            self.log.current_row["got_exception"] = traceback.format_exc()
            self._run_error_extensions(error)
            raise
        finally:
            self._restore_signal_handlers()
        if config.profile:
            self.profile.report()

    def _train(self):
        try:
            self._start()
            while self._run_epoch():
                pass
        except TrainingFinish:
            pass
        if not self._interrupted:
            self.status["training_finished"] = True
            self.log.current_row["training_finished"] = True
            self._run_extensions("after_training")

    def _timer(self, section):
        """Times `section` in :attr:`profile`."""
        return Timer(section, self.profile)

    def _start(self):
        if hasattr(self.algorithm, "axis_labels") and self.algorithm.axis_labels is None:
            # What an algorithm that splits batches over devices reads their batch axes
            # from, unless told them.
            self.algorithm.axis_labels = getattr(self.data_stream, "axis_labels", None)
        resumed = self.status["training_started"]
        if not resumed:
            self._run_extensions("before_training")
            with Timer("initialization", self.profile):
                self.algorithm.initialize()
            self.status["training_started"] = True
        # Not "else": a before_training extension (Load) may have restored a trained state.
        if resumed or self.status["iterations_done"] > 0:
            self.log.resume()
            for key in ("batch_interrupt_received", "epoch_interrupt_received",
                        "training_finished", "training_interrupted"):
                self.status[key] = False
            self._run_extensions("on_resumption")

    def _run_extensions(self, callback_name, *args):
        name = CallbackName(callback_name)
        with self._timer(callback_name):
            for extension in self.extensions:
                with self._timer(extension.name):
                    extension.dispatch(name, *args)

    def _run_error_extensions(self, error):
        for extension in self.extensions:
            try:
                extension.dispatch(CallbackName("on_error"), error)
            except Exception:
                logger.exception(
                    "extension %r raised while handling a training error", extension.name)

    def _run_epoch(self):
        if not self.status["epoch_started"] or self.epoch_iterator is None:
            try:
                self.epoch_iterator = self.data_stream.get_epoch_iterator(as_dict=True)
            except StopIteration:
                return False
            self.status["epoch_started"] = True
            self._batches_this_epoch = 0
            self._run_extensions("before_epoch")
        with self._timer("epoch"):
            while self._run_iteration():
                pass
        self.epoch_iterator = None
        self.status["epoch_started"] = False
        self.status["epochs_done"] += 1
        self.status["_epoch_ends"].append(self.status["iterations_done"])
        self._run_extensions("after_epoch")
        self._check_finish_training("epoch")
        return True

    def _next_batch(self):
        batch = next(self.epoch_iterator)
        if isinstance(batch, dict):
            return batch
        sources = getattr(self.data_stream, "sources", None)
        if sources is None or len(sources) != len(batch):
            raise ValueError(
                f"MainLoop: the epoch iterator gave a {type(batch).__name__} batch, not a "
                f"dict, and the data stream's sources {sources!r} cannot name its parts"
            )
        return dict(zip(sources, batch))

    def _run_iteration(self):
        try:
            with self._timer("read_data"):
                batch = self._next_batch()
        except StopIteration:
            if self._batches_this_epoch == 0:
                raise ValueError(
                    "MainLoop: the data stream gave an epoch without any batch; training "
                    "would never progress"
                ) from None
            return False
        self._batches_this_epoch += 1
        self._run_extensions("before_batch", batch)
        with self._timer("train"):
            self.algorithm.process_batch(batch)
        self.status["iterations_done"] += 1
        self._run_extensions("after_batch", batch)
        self._check_finish_training("batch")
        return True

    def _check_finish_training(self, level):
        # Reading a row creates it: look only if the iteration has one, so that a long
        # run does not keep an empty row per batch.
        iteration = self.status["iterations_done"]
        if iteration in self.log and self.log[iteration].get("training_finish_requested",
                                                              False):
            raise TrainingFinish
        if self.status["batch_interrupt_received"] or (
                level == "epoch" and self.status["epoch_interrupt_received"]):
            self._interrupted = True
            self.status["training_interrupted"] = True
            self.log.current_row["training_interrupted"] = True
            self._run_extensions("on_interrupt")
            raise TrainingFinish

    # Signals

    def _install_signal_handlers(self):
        if threading.current_thread() is not threading.main_thread():
            logger.debug("MainLoop.run outside the main thread: Ctrl-C is not handled")
            return
        self._original_handlers = {
            signal.SIGINT: signal.signal(signal.SIGINT, self._handle_interrupt),
            signal.SIGTERM: signal.signal(signal.SIGTERM, self._handle_interrupt),
        }

    def _restore_signal_handlers(self):
        if self._original_handlers is None:
            return
        for number, handler in self._original_handlers.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
        self._original_handlers = None

    def _handle_interrupt(self, signal_number, frame):
        """Signal handler: finish the batch in flight, run ``on_interrupt``, then stop."""
        if self.status["batch_interrupt_received"] and signal_number == signal.SIGINT:
            self._restore_signal_handlers()
            raise KeyboardInterrupt
        self.status["batch_interrupt_received"] = True
        logger.warning(_INTERRUPT_MESSAGE)
