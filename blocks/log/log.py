"""The in-memory training log and what every log backend shares."""

from uuid import uuid4

__all__ = ["TrainingLogBase", "TrainingLog"]


def _check_iteration(iteration):
    try:
        index = int(iteration)
    except (TypeError, ValueError):
        index = None
    if index is None or index != iteration or index < 0:
        raise TypeError(
            f"training log rows are indexed by the number of iterations done (an integer "
            f">= 0); received {iteration!r}"
        )
    return index


class TrainingLogBase:
    """What every training log has: a status and one row of records per iteration.

    Row ``i`` holds what was recorded after ``i`` iterations (batches) were done: the
    records written by extensions after batch ``i`` and before batch ``i + 1``. Records
    are plain ``name: value`` pairs; names starting with ``_`` are meant for internal use
    and are not printed.

    Parameters
    ----------
    uuid : str, optional
        Identifies this log; a fresh random one by default.

    Attributes
    ----------
    status : dict
        The state of the training that is not tied to one iteration: ``iterations_done``,
        ``epochs_done``, ``_epoch_ends`` (the iterations at which epochs ended),
        ``training_started``, ``epoch_started``, ``batch_interrupt_received``,
        ``epoch_interrupt_received``, ``training_finished``, ``training_interrupted``,
        ``resumed_from`` (the uuid of the log this one continues, if any). Extensions
        may add their own entries (e.g. :class:`~blocks.extensions.training.TrackTheBest`).
    uuid : str
    """

    def __init__(self, uuid=None):
        self.uuid = uuid if uuid is not None else uuid4().hex
        self.status = {
            "iterations_done": 0,
            "epochs_done": 0,
            "_epoch_ends": [],
            "training_started": False,
            "epoch_started": False,
            "batch_interrupt_received": False,
            "epoch_interrupt_received": False,
            "training_finished": False,
            "training_interrupted": False,
            "resumed_from": None,
        }

    @property
    def h_uuid(self):
        """The uuid as a hexadecimal string (kept for Blocks compatibility)."""
        return self.uuid

    def resume(self):
        """Mark the start of a resumed run: the log gets a new uuid pointing to the old one."""
        old_uuid = self.uuid
        self.uuid = uuid4().hex
        self.status["resumed_from"] = old_uuid

    @property
    def current_row(self):
        """The row of the current iteration (``status['iterations_done']``)."""
        return self[self.status["iterations_done"]]

    @property
    def previous_row(self):
        """The row of the iteration before the current one."""
        if self.status["iterations_done"] == 0:
            raise ValueError("the training log has no row before iteration 0")
        return self[self.status["iterations_done"] - 1]

    @property
    def last_epoch_row(self):
        """The row of the iteration at which the last finished epoch ended."""
        if not self.status["_epoch_ends"]:
            raise ValueError("no epoch has finished yet: the training log has no epoch row")
        return self[self.status["_epoch_ends"][-1]]


class TrainingLog(TrainingLogBase, dict):
    """A training log kept in memory: a dict from iteration numbers to rows (dicts).

    Reading a row that does not exist creates it empty, so extensions can write to
    ``log.current_row`` without checking. The log pickles with the main loop.

    Examples
    --------
    >>> log = TrainingLog()
    >>> log.current_row['cost'] = 2.5
    >>> log.status['iterations_done'] += 1
    >>> log.current_row['cost'] = 1.5
    >>> log[0], log.previous_row, log[1]['cost']
    ({'cost': 2.5}, {'cost': 2.5}, 1.5)
    >>> sorted(log)
    [0, 1]
    """

    def __init__(self, uuid=None):
        dict.__init__(self)
        TrainingLogBase.__init__(self, uuid)

    def __getitem__(self, iteration):
        return dict.__getitem__(self, _check_iteration(iteration))

    def __setitem__(self, iteration, row):
        if not isinstance(row, dict):
            raise TypeError(f"a training log row must be a dict; received {type(row).__name__}")
        dict.__setitem__(self, _check_iteration(iteration), row)

    def __missing__(self, iteration):
        row = {}
        dict.__setitem__(self, iteration, row)
        return row

    def __reduce__(self):
        # dict subclasses pickle their items and their __dict__ separately: keep both.
        return (_rebuild_training_log, (dict(self), self.__dict__))


def _rebuild_training_log(rows, state):
    log = TrainingLog.__new__(TrainingLog)
    dict.update(log, rows)
    log.__dict__.update(state)
    return log
