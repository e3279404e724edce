"""Training extensions: code that the main loop calls at given points of training.

The main loop calls every extension's :meth:`~TrainingExtension.dispatch` with the name
of a *callback*: ``before_training``, ``before_epoch``, ``before_batch`` (with the
batch), ``after_batch`` (with the batch), ``after_epoch``, ``after_training``,
``on_interrupt``, ``on_resumption`` and ``on_error`` (with the exception).
:class:`TrainingExtension` maps each callback to a method of the same name;
:class:`SimpleExtension` runs one method, :meth:`~SimpleExtension.do`, whenever one of
its *conditions* holds, as chosen with keyword arguments::

    Printing(after_epoch=True, every_n_batches=100)
    FinishAfter(after_n_epochs=10)

In this package: :class:`FinishAfter`, :class:`Printing`, :class:`ProgressBar`,
:class:`Timing`, :class:`Timestamp`, :class:`CompositeExtension`; in submodules:
``predicates`` (:class:`~blocks.extensions.predicates.OnLogRecord`), ``monitoring``
(:class:`~blocks.extensions.monitoring.DataStreamMonitoring`,
:class:`~blocks.extensions.monitoring.TrainingDataMonitoring`), ``stopping``, ``training``
and ``saveload``.
"""

import datetime
import math
import sys
import time

__all__ = [
    "CALLBACK_NAMES", "BOOLEAN_TRIGGERS", "INTEGER_TRIGGERS", "CallbackName", "Predicate",
    "TrainingExtension", "SimpleExtension", "CompositeExtension", "FinishAfter", "Printing",
    "ProgressBar",
    "Timing", "Timestamp", "epoch_size", "set_default_trigger",
]

#: The callbacks the main loop invokes, in the order of a training run.
CALLBACK_NAMES = (
    "before_training", "on_resumption", "before_epoch", "before_batch", "after_batch",
    "after_epoch", "after_training", "on_interrupt", "on_error",
)

#: Boolean keyword arguments of :class:`SimpleExtension`: run `do` at that callback.
BOOLEAN_TRIGGERS = (
    "before_training", "before_first_epoch", "before_epoch", "before_batch", "after_batch",
    "after_epoch", "after_training", "on_interrupt", "on_resumption", "on_error",
)

#: Integer keyword arguments of :class:`SimpleExtension`, and the callback each uses.
INTEGER_TRIGGERS = {
    "every_n_epochs": "after_epoch",
    "every_n_batches": "after_batch",
    "after_n_epochs": "after_epoch",
    "after_n_batches": "after_batch",
}


def _check_callback_name(name):
    if name not in CALLBACK_NAMES:
        hint = (" ('before_first_epoch' is a SimpleExtension trigger, dispatched as "
                "'before_epoch')" if name == "before_first_epoch" else "")
        raise ValueError(
            f"{name!r} is not a callback name; expected one of {', '.join(CALLBACK_NAMES)}"
            + hint
        )


def set_default_trigger(kwargs, trigger):
    """Add ``trigger=True`` to `kwargs` unless they already hold a trigger.

    For extensions that act at one kind of point (``after_batch`` for a schedule...):
    a trigger given by the user replaces the default instead of adding to it.

    >>> set_default_trigger({'every_n_epochs': 2}, 'after_batch')
    {'every_n_epochs': 2}
    >>> set_default_trigger({}, 'after_batch')
    {'after_batch': True}
    """
    if not any(value not in (None, False) for key, value in kwargs.items()
               if key in BOOLEAN_TRIGGERS or key in INTEGER_TRIGGERS):
        kwargs[trigger] = True
    return kwargs


class CallbackName(str):
    """The name of a main loop callback, compared only with valid callback names.

    Comparing it with a misspelt name raises, instead of silently being false:

    >>> name = CallbackName('after_epoch')
    >>> name == 'after_epoch', name == 'after_batch'
    (True, False)
    >>> name == 'after_epohc'
    Traceback (most recent call last):
    ...
    ValueError: 'after_epohc' is not a callback name; ...
    """

    def __new__(cls, name):
        _check_callback_name(name)
        return super().__new__(cls, name)

    def __eq__(self, other):
        if isinstance(other, str):
            _check_callback_name(other)
        return str.__eq__(self, other)

    def __ne__(self, other):
        return not self == other

    __hash__ = str.__hash__

    def __reduce__(self):
        return (CallbackName, (str(self),))


class Predicate:
    """A picklable condition on the training status, used by :class:`SimpleExtension`.

    Parameters
    ----------
    condition : str
        One of ``every_n_epochs``, ``every_n_batches``, ``after_n_epochs``,
        ``after_n_batches``.
    num : int

    >>> from blocks.log import TrainingLog
    >>> log = TrainingLog()
    >>> log.status['epochs_done'] = 4
    >>> Predicate('every_n_epochs', 2)(log), Predicate('after_n_epochs', 3)(log)
    (True, False)
    """

    def __init__(self, condition, num):
        if condition not in INTEGER_TRIGGERS:
            raise ValueError(
                f"unknown predicate condition {condition!r}; expected one of "
                f"{', '.join(INTEGER_TRIGGERS)}"
            )
        self.condition = condition
        self.num = num

    def __call__(self, log):
        key = "epochs_done" if self.condition.endswith("epochs") else "iterations_done"
        done = log.status[key]
        if self.condition.startswith("every"):
            return done % self.num == 0
        return done == self.num

    def __repr__(self):
        return f"Predicate({self.condition!r}, {self.num})"


class _BeforeFirstEpoch:
    # A module-level class rather than a lambda so that extensions pickle.
    def __call__(self, log):
        return log.status["epochs_done"] == 0


class TrainingExtension:
    """The base class of training extensions: one method per main loop callback.

    Override the methods of the callbacks you need; the others do nothing.

    Parameters
    ----------
    name : str, optional
        Used by :meth:`~blocks.main_loop.MainLoop.find_extension`; the class name by
        default.

    Attributes
    ----------
    main_loop : :class:`~blocks.main_loop.MainLoop`
        Set by the main loop; accessing it before raises ``ValueError``.
    """

    def __init__(self, name=None):
        self.name = name if name is not None else type(self).__name__
        self._main_loop = None

    @property
    def main_loop(self):
        if self._main_loop is None:
            raise ValueError(f"extension {self.name!r} is not attached to a main loop")
        return self._main_loop

    @main_loop.setter
    def main_loop(self, value):
        self._main_loop = value

    def dispatch(self, callback_name, *args):
        """Run the method named `callback_name` with the arguments from the main loop."""
        getattr(self, str(callback_name))(*args)

    def before_training(self):
        """Before the first epoch of a new training run."""

    def on_resumption(self):
        """When a main loop that has already trained (e.g. loaded) starts again."""

    def before_epoch(self):
        """Before an epoch starts (also when an interrupted epoch restarts)."""

    def before_batch(self, batch):
        """Before the algorithm processes `batch` (a dict from source names to data)."""

    def after_batch(self, batch):
        """After the algorithm processed `batch`; ``iterations_done`` counts it."""

    def after_epoch(self):
        """After an epoch ends; ``epochs_done`` counts it."""

    def after_training(self):
        """After training finished (on request or because the data ran out)."""

    def on_interrupt(self):
        """After training was interrupted (Ctrl-C, SIGTERM), before the loop returns."""

    def on_error(self, exception=None):
        """When training raised `exception`; the main loop re-raises it afterwards."""


class SimpleExtension(TrainingExtension):
    """An extension that runs :meth:`do` whenever one of its conditions holds.

    Conditions are set with keyword arguments (or later with :meth:`set_conditions` and
    :meth:`add_condition`):

    - ``before_training``, ``before_first_epoch``, ``before_epoch``, ``before_batch``,
      ``after_batch``, ``after_epoch``, ``after_training``, ``on_interrupt``,
      ``on_resumption``, ``on_error`` (bool): run at that callback
      (``before_first_epoch``: at ``before_epoch`` while no epoch is done);
    - ``every_n_epochs``, ``every_n_batches`` (int): after each epoch (batch) whose
      count is a multiple of n;
    - ``after_n_epochs``, ``after_n_batches`` (int): once, after the n-th epoch (batch).

    Subclasses implement ``do(which_callback, *args)``: `which_callback` is the
    :class:`CallbackName` invoked, `args` what the main loop passes (the batch for
    ``before_batch``/``after_batch``, the exception for ``on_error``) followed by the
    condition's extra `arguments`.

    Parameters
    ----------
    name : str, optional
    **kwargs
        The triggers above.

    Examples
    --------
    >>> class Hello(SimpleExtension):
    ...     def do(self, which_callback, *args):
    ...         print('hello after', which_callback)
    >>> hello = Hello(after_epoch=True, every_n_batches=10)
    >>> [name for name, predicate, arguments in hello._conditions]
    ['after_epoch', 'after_batch']
    """

    #: The boolean and integer trigger arguments, as Blocks lists them on the class.
    BOOLEAN_TRIGGERS = frozenset(BOOLEAN_TRIGGERS)
    INTEGER_TRIGGERS = frozenset(INTEGER_TRIGGERS)

    def __init__(self, name=None, **kwargs):
        unknown = [key for key in kwargs
                   if key not in BOOLEAN_TRIGGERS and key not in INTEGER_TRIGGERS]
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unknown keyword argument(s) "
                f"{', '.join(map(repr, unknown))}; triggers are "
                f"{', '.join(BOOLEAN_TRIGGERS + tuple(INTEGER_TRIGGERS))}"
            )
        super().__init__(name=name)
        self._conditions = []
        self.set_conditions(**kwargs)

    def set_conditions(self, **kwargs):
        """Replace all conditions by those of the triggers in `kwargs`; returns self.

        >>> finish = FinishAfter(after_n_epochs=2)
        >>> finish.set_conditions(after_n_batches=5)._conditions
        [('after_batch', Predicate('after_n_batches', 5), ())]
        """
        self._conditions = []
        for key, value in kwargs.items():
            if key in BOOLEAN_TRIGGERS:
                if value is None or value is False:
                    continue
                if value is not True:
                    raise TypeError(
                        f"{type(self).__name__}: trigger {key!r} takes True or False; "
                        f"received {value!r}"
                    )
                if key == "before_first_epoch":
                    self.add_condition(["before_epoch"], predicate=_BeforeFirstEpoch())
                else:
                    self.add_condition([key])
            elif key in INTEGER_TRIGGERS:
                if value is None:
                    continue
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ValueError(
                        f"{type(self).__name__}: trigger {key!r} takes a positive integer; "
                        f"received {value!r}"
                    )
                self.add_condition([INTEGER_TRIGGERS[key]], predicate=Predicate(key, value))
            else:
                raise TypeError(
                    f"{type(self).__name__}: unknown trigger {key!r}; triggers are "
                    f"{', '.join(BOOLEAN_TRIGGERS + tuple(INTEGER_TRIGGERS))}"
                )
        return self

    def add_condition(self, callbacks_names, predicate=None, arguments=None):
        """Also run :meth:`do` at the callbacks `callbacks_names` when `predicate` holds.

        Parameters
        ----------
        callbacks_names : str or list of str
            Main loop callback names (see :data:`CALLBACK_NAMES`).
        predicate : callable, optional
            Called with the training log; the condition holds when it returns true.
            Use a picklable callable (not a lambda) if the main loop is checkpointed.
        arguments : iterable, optional
            Passed to :meth:`do` after the main loop's arguments.

        Returns
        -------
        self
        """
        if isinstance(callbacks_names, str):
            callbacks_names = [callbacks_names]
        if predicate is not None and not callable(predicate):
            raise TypeError(f"predicate must be callable; received {predicate!r}")
        for name in callbacks_names:
            self._conditions.append((CallbackName(name), predicate, tuple(arguments or ())))
        return self

    @staticmethod
    def parse_args(which_callback, args):
        """Split the arguments of :meth:`do` into those of the main loop and the user's.

        Returns
        -------
        from_main_loop : tuple
            ``(batch,)`` at ``before_batch`` and ``after_batch``, else empty.
        from_user : tuple
            The condition's extra `arguments`.

        >>> SimpleExtension.parse_args('after_batch', ({'x': 1}, 'best.tar'))
        (({'x': 1},), ('best.tar',))
        >>> SimpleExtension.parse_args('after_epoch', ('best.tar',))
        ((), ('best.tar',))
        """
        args = tuple(args)
        if which_callback in ("before_batch", "after_batch"):
            return args[:1], args[1:]
        return (), args

    def dispatch(self, callback_invoked, *from_main_loop):
        for name, predicate, arguments in self._conditions:
            if name == callback_invoked and (
                    predicate is None or predicate(self.main_loop.log)):
                self.do(callback_invoked, *(from_main_loop + arguments))

    def do(self, which_callback, *args):
        """What the extension does; implemented by subclasses."""
        raise NotImplementedError(f"{type(self).__name__} does not implement do()")


class FinishAfter(SimpleExtension):
    """Ask the main loop to finish training when one of its conditions holds.

    The request is recorded as ``training_finish_requested`` in the current log row; the
    main loop stops after the current batch (or epoch) callbacks, then runs the
    ``after_training`` extensions.

    >>> FinishAfter(after_n_epochs=10).name
    'FinishAfter'
    """

    def do(self, which_callback, *args):
        self.main_loop.log.current_row["training_finish_requested"] = True


class CompositeExtension(SimpleExtension):
    """An extension that manages other extensions (its *sub-extensions*).

    The main loop's callbacks go to the composite, which dispatches each one to its own
    conditions (its :meth:`do`, as for any :class:`SimpleExtension`) and to every
    sub-extension, in order. Each sub-extension runs on its own conditions; the trigger
    arguments of the composite only schedule its own :meth:`do`. Setting the composite's
    ``main_loop`` (as the main loop does) hands it down to the sub-extensions.

    Parameters
    ----------
    sub_extensions : iterable of TrainingExtension
    run_before_children : bool
        Whether the composite's own conditions are dispatched before those of the
        sub-extensions (True, the default) or after them.
    **kwargs
        Triggers of :class:`SimpleExtension` for the composite's own :meth:`do`, and
        ``name``.

    Examples
    --------
    >>> bundle = CompositeExtension([FinishAfter(after_n_epochs=5),
    ...                              Printing(after_epoch=True)])
    >>> [sub.name for sub in bundle.sub_extensions]
    ['FinishAfter', 'Printing']
    """

    def __init__(self, sub_extensions, run_before_children=True, **kwargs):
        self.sub_extensions = list(sub_extensions)
        for sub in self.sub_extensions:
            if not isinstance(sub, TrainingExtension) and not hasattr(sub, "dispatch"):
                raise TypeError(f"CompositeExtension: sub-extensions must be training "
                                f"extensions; received {sub!r}")
        self.run_before_children = run_before_children
        super().__init__(**kwargs)

    @property
    def main_loop(self):
        return TrainingExtension.main_loop.fget(self)

    @main_loop.setter
    def main_loop(self, value):
        self._main_loop = value
        # Set during construction too, when the sub-extensions are not stored yet.
        for sub in getattr(self, "sub_extensions", ()):
            sub.main_loop = value

    def dispatch(self, callback_invoked, *from_main_loop):
        if self.run_before_children:
            super().dispatch(callback_invoked, *from_main_loop)
        for sub in self.sub_extensions:
            sub.dispatch(callback_invoked, *from_main_loop)
        if not self.run_before_children:
            super().dispatch(callback_invoked, *from_main_loop)

    def do(self, which_callback, *args):
        """Nothing by default: subclasses add the composite's own work."""


def _visible(items):
    return [(key, value) for key, value in items if not str(key).startswith("_")]


class Printing(SimpleExtension):
    """Print the training status and the records of the current log row to stdout.

    By default it prints before the first epoch, after every epoch, after training, on
    resumption and on interrupt, in Blocks' layout: a heading between two lines of 79
    dashes, then the status and the records, sorted by name, one ``\t name: value`` a
    line. Entries whose name starts with ``_`` are not shown; on interrupt only the
    heading is printed.
    """

    _HEADINGS = {
        "after_epoch": "AFTER ANOTHER EPOCH",
        "after_batch": "AFTER ANOTHER BATCH",
        "after_training": "TRAINING HAS BEEN FINISHED:",
        "on_interrupt": "TRAINING HAS BEEN INTERRUPTED",
        "on_resumption": "TRAINING HAS BEEN RESUMED",
        "before_training": "BEFORE TRAINING",
        "on_error": "AN ERROR OCCURRED",
    }

    def __init__(self, **kwargs):
        for trigger in ("before_first_epoch", "after_epoch", "after_training",
                        "on_resumption", "on_interrupt"):
            kwargs.setdefault(trigger, True)
        super().__init__(**kwargs)

    @staticmethod
    def _lines(entries):
        return [f"\t {key}: {value}" for key, value in sorted(
            _visible(entries.items()), key=lambda item: str(item[0]))]

    def do(self, which_callback, *args):
        log = self.main_loop.log
        if which_callback == "before_epoch":
            heading = ("BEFORE FIRST EPOCH" if log.status["epochs_done"] == 0
                       else "BEFORE ANOTHER EPOCH")
        else:
            heading = self._HEADINGS.get(str(which_callback), str(which_callback).upper())
        lines = ["", "-" * 79, heading, "-" * 79]
        if which_callback != "on_interrupt":
            lines.append("Training status:")
            lines += self._lines(log.status)
            lines.append(f"Log records from the iteration {log.status['iterations_done']}:")
            lines += self._lines(log.current_row)
        print("\n".join(lines) + "\n", flush=True)


def _scheme_size(scheme):
    num_batches = getattr(scheme, "num_batches", None)
    if isinstance(num_batches, int):
        return num_batches
    num_examples = getattr(scheme, "num_examples", None)
    indices = getattr(scheme, "indices", None)
    if indices is not None:
        try:
            num_examples = len(indices)
        except TypeError:
            return None
    if not isinstance(num_examples, int):
        return None
    if getattr(scheme, "requests_examples", False):
        return num_examples
    batch_size = getattr(scheme, "batch_size", None)
    if isinstance(batch_size, int) and batch_size > 0:
        return math.ceil(num_examples / batch_size)
    return None


def epoch_size(data_stream):
    """The number of batches in an epoch of `data_stream`, or None if it cannot tell.

    Asks the iteration scheme of the stream (or, for a transformer without one, of the
    stream it wraps) for ``num_batches``, else computes it from the number of examples
    (``indices`` or ``num_examples``) and ``batch_size``. A transformer that drops
    examples makes this an estimate.

    >>> from blocks.datasets import IndexableDataset, DataStream, SequentialScheme
    >>> dataset = IndexableDataset({'x': np.zeros((10, 2))})
    >>> epoch_size(DataStream(dataset, iteration_scheme=SequentialScheme(10, 4)))
    3
    """
    stream = data_stream
    while stream is not None:
        scheme = getattr(stream, "iteration_scheme", None)
        if scheme is not None:
            return _scheme_size(scheme)
        stream = getattr(stream, "data_stream", None)
    return None


class ProgressBar(TrainingExtension):
    """A live progress bar over the batches of each epoch, drawn on stderr.

    The first batch that a process trains compiles the training step (PyTensor's
    Numba backend compiles a function when it is first called; cached for later runs):
    it is reported as a phase of its own, ``compiling the training step... 41.2 s``,
    and left out of the times and of the estimate of the time left (ETA), which counts
    only the batches trained after it.

    The epoch size comes from the data stream's iteration scheme (see
    :func:`epoch_size`) or, from the second epoch on, from the length of the previous
    epoch. When it is unknown no bar is drawn. The bar is one line redrawn with a
    carriage return, at most once per percent, and only on a terminal: written to a
    file or a pipe, the extension writes only the compilation line (the examples'
    epoch lines, or :class:`Printing`, give a line per epoch). No third-party
    dependency.

    Parameters
    ----------
    width : int
        Characters of the bar itself.
    stream : file object, optional
        Where to draw (``sys.stderr`` at the time of drawing by default). A stream given
        here is not pickled with the extension.
    name : str, optional
    terminal : bool, optional
        Whether to redraw the bar; by default, whether the stream is a terminal
        (``stream.isatty()``).
    """

    def __init__(self, width=40, stream=None, name=None, terminal=None):
        super().__init__(name=name)
        self.width = width
        self.stream = stream
        self.terminal = terminal
        self._compile_pending = True
        self._compiling_since = None
        self._reset(None)

    def _reset(self, total):
        self._total = total
        self._done = 0
        self._drawn = None
        # Times and the ETA count the batches after `_timed_from` (the compiling one).
        self._timed_from = 0
        self._started = time.perf_counter()

    def __getstate__(self):
        state = self.__dict__.copy()
        state["stream"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._compile_pending = True  # a new process compiles the step again
        self._compiling_since = None

    def _stream(self):
        return self.stream if self.stream is not None else sys.stderr

    def _on_terminal(self):
        if self.terminal is not None:
            return self.terminal
        isatty = getattr(self._stream(), "isatty", None)
        return bool(isatty is not None and isatty())

    def _write(self, text):
        stream = self._stream()
        stream.write(text)
        stream.flush()

    def before_epoch(self):
        total = epoch_size(self.main_loop.data_stream)
        ends = self.main_loop.status["_epoch_ends"]
        if total is None and ends:
            total = ends[-1] - (ends[-2] if len(ends) > 1 else 0)
        self._reset(total)

    def before_batch(self, batch):
        if self._compile_pending:
            self._write("compiling the training step... ")
            self._compiling_since = time.perf_counter()

    def after_batch(self, batch):
        self._done += 1
        if self._compile_pending:
            self._compile_pending = False
            now = time.perf_counter()
            self._write(f"{now - self._compiling_since:.1f} s\n")
            self._compiling_since = None
            self._timed_from, self._started = self._done, now
        if not self._total or not self._on_terminal():
            return
        done = min(self._done, self._total)
        percent = 100 * done // self._total
        if percent == self._drawn and done != self._total:
            return
        self._drawn = percent
        self._write("\r" + self._line(done, percent))

    def _line(self, done, percent):
        filled = self.width * done // self._total
        elapsed = time.perf_counter() - self._started
        timed = done - self._timed_from
        eta = (f"{elapsed / timed * (self._total - done):6.1f}s" if timed > 0
               else "     ?s")
        epoch = self.main_loop.status["epochs_done"] + 1
        return (f"Epoch {epoch}: [{'#' * filled}{'.' * (self.width - filled)}] "
                f"{done}/{self._total} {percent:3d}% {elapsed:6.1f}s ETA {eta}")

    def _finish(self):
        if self._total and self._drawn is not None:
            self._write("\n")
        self._reset(None)

    def after_epoch(self):
        self._finish()

    def on_interrupt(self):
        self._finish()

    def on_error(self, exception=None):
        if self._compiling_since is not None:  # the compiling batch failed
            self._write("\n")
            self._compiling_since = None
        self._finish()


class Timing(SimpleExtension):
    """Record how long training takes: reading data, training, initializing.

    The main loop times its own sections (see :mod:`blocks.utils.profile`): reading a
    batch from the data stream, the algorithm's ``process_batch``, and the algorithm's
    ``initialize``. Only those are counted: what other extensions do (compiling a
    monitor before the first epoch, printing...) is in neither. This extension copies
    them to the log when one of its conditions holds (before the first epoch and after
    every epoch by default):

    - before the first epoch, ``{prefix}_time_initialization``;
    - ``{prefix}_time_read_data_this_epoch``, ``{prefix}_time_train_this_epoch`` and
      ``{prefix}_time_read_data_total``, ``{prefix}_time_train_total`` after an epoch;
    - ``{prefix}_time_read_data_this_batch``, ``{prefix}_time_train_this_batch`` (and
      the totals) after a batch.

    Seconds. The ``this_epoch``/``this_batch`` values are averages over the epochs
    (batches) since the last record, as in Blocks, so ``every_n_batches=10`` gives the
    mean time per batch. With no prefix the names have none (``time_train_total``).

    Parameters
    ----------
    prefix : str
        Prepended with an underscore, as in Blocks.
    **kwargs
        Triggers of :class:`SimpleExtension`.

    Examples
    --------
    >>> Timing(prefix='valid').prefix
    'valid_'
    """

    _SECTIONS = {"read_data": ("training", "epoch", "read_data"),
                 "train": ("training", "epoch", "train")}

    def __init__(self, prefix="", **kwargs):
        kwargs.setdefault("before_first_epoch", True)
        kwargs.setdefault("after_epoch", True)
        super().__init__(**kwargs)
        self.prefix = prefix + "_" if prefix else ""
        # Per level: the counter value and the section totals at the last record.
        self._last = {"batch": (0, {}), "epoch": (0, {})}

    def do(self, which_callback, *args):
        row = self.main_loop.log.current_row
        total = self.main_loop.profile.total
        if which_callback == "before_epoch":
            row[f"{self.prefix}time_initialization"] = total.get(
                ("training", "initialization"), 0.0)
            return
        level, counter = {"after_batch": ("batch", "iterations_done"),
                          "after_epoch": ("epoch", "epochs_done")}.get(
                              str(which_callback), (None, None))
        if level is None:
            raise ValueError(
                f"Timing: records are written before the first epoch, after a batch or "
                f"after an epoch, not at {which_callback!r}")
        done = self.main_loop.log.status[counter]
        last_done, last_totals = self._last[level]
        if done == last_done:
            return
        now = {action: total.get(section, 0.0) for action, section in self._SECTIONS.items()}
        for action, seconds in now.items():
            row[f"{self.prefix}time_{action}_this_{level}"] = (
                (seconds - last_totals.get(action, 0.0)) / (done - last_done))
            row[f"{self.prefix}time_{action}_total"] = seconds
        self._last[level] = (done, now)


class Timestamp(SimpleExtension):
    """Record the wall-clock time (ISO 8601) in the log.

    As in Blocks, it records before training, after every epoch, after training, on
    errors, on interrupts and on resumption unless those triggers are set to False.

    Parameters
    ----------
    log_record : str
        The record name.
    separator : str
        Between the date and the time.
    **kwargs
        Triggers of :class:`SimpleExtension`.
    """

    DEFAULT_LOG_RECORD = "timestamp"
    #: The triggers on by default (each can be turned off with ``trigger=False``).
    DEFAULT_TRIGGERS = ("before_training", "after_epoch", "on_error", "on_interrupt",
                        "on_resumption", "after_training")

    def __init__(self, log_record=DEFAULT_LOG_RECORD, separator=" ", **kwargs):
        for trigger in self.DEFAULT_TRIGGERS:
            kwargs.setdefault(trigger, True)
        super().__init__(**kwargs)
        self.log_record = log_record
        self.separator = separator

    def get_timestamp(self):
        return datetime.datetime.now().isoformat(self.separator)

    def do(self, which_callback, *args):
        self.main_loop.log.current_row[self.log_record] = self.get_timestamp()
