"""Early stopping.

:class:`FinishIfNoImprovementAfter` and :class:`EarlyStopping` are Blocks' early
stopping: patience counted from the last notified improvement, checked after every
epoch by default. :class:`FinishIfNoImprovement` is this library's variant that also
finds notifications written at other callbacks than its own checks.
"""

import bisect
import logging

from blocks.extensions import CompositeExtension, FinishAfter, SimpleExtension, set_default_trigger
from blocks.extensions.predicates import OnLogRecord
from blocks.extensions.training import TrackTheBest

__all__ = ["FinishIfNoImprovement", "FinishIfNoImprovementAfter", "EarlyStopping"]

logger = logging.getLogger(__name__)


def _check_patience(owner, iterations, epochs):
    """The patience and whether it counts epochs; exactly one of the two must be given."""
    if (iterations is None) == (epochs is None):
        raise ValueError(f"{owner}: give exactly one of iterations and epochs")
    patience = iterations if epochs is None else epochs
    if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
        raise ValueError(f"{owner}: patience must be a positive integer; received {patience!r}")
    return patience, epochs is not None


def _patience_record(notification_name, in_epochs):
    return f"{notification_name}_patience_{'epochs' if in_epochs else 'iterations'}"


class FinishIfNoImprovement(SimpleExtension):
    """Finish training when a notification of improvement has not come for a while.

    An improvement is signalled by a true record `notification_name` in a log row, as
    :class:`~blocks.extensions.training.TrackTheBest` writes. At each check, the rows
    written since the previous check are searched for it, so the notification may come
    at any callback (e.g. after every epoch while patience counts batches). Patience
    counts from the last improvement, or from the start of training.

    Parameters
    ----------
    notification_name : str
        The record that signals an improvement (e.g. ``'valid_cost_best_so_far'``).
        ``record_name`` is accepted as another name for this argument.
    iterations : int, optional
        Patience in batches (checked after every batch).
    epochs : int, optional
        Patience in epochs (checked after every epoch). Give exactly one of
        `iterations` and `epochs`.
    patience_log_record : str, optional
        Where the remaining patience is written; ``{notification_name}_patience_epochs``
        (or ``_patience_iterations``) by default.
    **kwargs
        Triggers of :class:`~blocks.extensions.SimpleExtension`, to check at other times
        than after every batch (epoch).

    Examples
    --------
    >>> from blocks.extensions.training import TrackTheBest
    >>> extensions = [TrackTheBest('valid_cost'),
    ...               FinishIfNoImprovement('valid_cost_best_so_far', epochs=5)]
    """

    def __init__(self, notification_name=None, iterations=None, epochs=None,
                 patience_log_record=None, record_name=None, **kwargs):
        if notification_name is None:
            notification_name = record_name
        elif record_name is not None:
            raise TypeError("FinishIfNoImprovement: give notification_name or record_name, "
                            "not both")
        if not isinstance(notification_name, str):
            raise TypeError(
                f"FinishIfNoImprovement: notification_name must be a record name (str); "
                f"received {notification_name!r}"
            )
        patience, self.in_epochs = _check_patience("FinishIfNoImprovement", iterations, epochs)
        set_default_trigger(kwargs, "after_epoch" if self.in_epochs else "after_batch")
        super().__init__(**kwargs)
        self.notification_name = notification_name
        self.patience = patience
        self.patience_log_record = (patience_log_record
                                    or _patience_record(notification_name, self.in_epochs))
        self.best_iteration = 0
        self._next_row = 0

    def do(self, which_callback, *args):
        log = self.main_loop.log
        status = log.status
        current = status["iterations_done"]
        for iteration in range(self._next_row, current + 1):
            if iteration in log and log[iteration].get(self.notification_name, False):
                self.best_iteration = iteration
        # The current row is searched again next time: an extension running after this
        # one may still notify in it.
        self._next_row = current
        if self.in_epochs:
            best = bisect.bisect_right(status["_epoch_ends"], self.best_iteration)
            remaining = best + self.patience - status["epochs_done"]
        else:
            remaining = self.best_iteration + self.patience - current
        log.current_row[self.patience_log_record] = remaining
        if remaining <= 0:
            log.current_row["training_finish_requested"] = True


class FinishIfNoImprovementAfter(FinishAfter):
    """Finish training when no improvement was notified for a given number of batches or epochs.

    Whenever it runs (after every epoch by default), it looks for the record
    `notification_name` in the current log row (its value is not inspected), as
    :class:`~blocks.extensions.training.TrackTheBest` writes it: its presence marks a new
    best. Counting starts at the first notification; the patience left is written to
    `patience_log_record`, and training finishes when none is left.

    Parameters
    ----------
    notification_name : str
    iterations : int, optional
        Patience in batches. Give exactly one of `iterations` and `epochs`.
    epochs : int, optional
        Patience in epochs.
    patience_log_record : str, optional
        ``{notification_name}_patience_epochs`` (or ``_patience_iterations``) by default.
    **kwargs
        Triggers of :class:`~blocks.extensions.SimpleExtension`; ``after_epoch=True``
        is added unless ``after_epoch`` is given.

    Notes
    -----
    Place it after the extension that notifies improvements in the main loop's list, so
    that a notification is seen in the row it is written to. Blocks finished only when
    the patience left was exactly 0, which a patience in iterations checked after each
    epoch can step over; this one finishes once it is 0 or less.

    Examples
    --------
    >>> finish = FinishIfNoImprovementAfter('valid_cost_best_so_far', epochs=5)
    >>> finish.patience_log_record
    'valid_cost_best_so_far_patience_epochs'
    """

    def __init__(self, notification_name, iterations=None, epochs=None,
                 patience_log_record=None, **kwargs):
        _, in_epochs = _check_patience(type(self).__name__, iterations, epochs)
        self.notification_name = notification_name
        self.iterations = iterations
        self.epochs = epochs
        self.patience_log_record = (patience_log_record
                                    or _patience_record(notification_name, in_epochs))
        self.last_best_iter = self.last_best_epoch = None
        kwargs.setdefault("after_epoch", True)
        super().__init__(**kwargs)

    def update_best(self):
        """Remember the current iteration and epoch if the current row notifies a best."""
        log = self.main_loop.log
        if self.notification_name in log.current_row:
            self.last_best_iter = log.status["iterations_done"]
            self.last_best_epoch = log.status["epochs_done"]

    def do(self, which_callback, *args):
        self.update_best()
        if self.last_best_iter is None:
            return
        status = self.main_loop.log.status
        if self.epochs is not None:
            patience = self.epochs - (status["epochs_done"] - self.last_best_epoch)
        else:
            patience = self.iterations - (status["iterations_done"] - self.last_best_iter)
        self.main_loop.log.current_row[self.patience_log_record] = patience
        if patience <= 0:
            super().do(which_callback, *args)


class EarlyStopping(CompositeExtension):
    """Track the best value of a record, finish when it stops improving, save the best model.

    A :class:`~blocks.extensions.training.TrackTheBest` on `record_name` followed by a
    :class:`FinishIfNoImprovementAfter` on its notification, as sub-extensions that
    receive the trigger arguments (``after_epoch=True`` unless ``after_epoch`` is
    given). With `checkpoint_extension` and `checkpoint_filename`, the checkpoint is
    also written to `checkpoint_filename` after every batch that notifies a new best;
    a checkpoint extension that is not in the main loop's extensions is run as a
    sub-extension after the two others.

    Parameters
    ----------
    record_name : str
        The log record to watch, e.g. ``'valid_error'``.
    checkpoint_extension : :class:`~blocks.extensions.saveload.Checkpoint`, optional
    checkpoint_filename : str, optional
        Required with `checkpoint_extension`.
    notification_name : str, optional
        ``{record_name}_best_so_far`` by default.
    choose_best : callable
        See :class:`~blocks.extensions.training.TrackTheBest` (``min`` by default).
    iterations, epochs : int, optional
        Patience, see :class:`FinishIfNoImprovementAfter`.
    **kwargs
        Triggers of :class:`~blocks.extensions.SimpleExtension`.

    Examples
    --------
    >>> from blocks.extensions.saveload import Checkpoint
    >>> checkpoint = Checkpoint('model.tar', after_epoch=True)
    >>> stopping = EarlyStopping('valid_error', checkpoint, 'best_model.tar', epochs=5)
    >>> [type(sub).__name__ for sub in stopping.sub_extensions]
    ['TrackTheBest', 'FinishIfNoImprovementAfter']
    """

    def __init__(self, record_name, checkpoint_extension=None, checkpoint_filename=None,
                 notification_name=None, choose_best=min, iterations=None, epochs=None,
                 **kwargs):
        if notification_name is None:
            notification_name = record_name + "_best_so_far"
        if checkpoint_extension is not None and checkpoint_filename is None:
            raise ValueError("EarlyStopping: checkpoint_extension given without "
                             "checkpoint_filename (where to save the best model)")
        kwargs.setdefault("after_epoch", True)
        tracking = TrackTheBest(record_name, notification_name, choose_best=choose_best,
                                **kwargs)
        stopping = FinishIfNoImprovementAfter(notification_name, iterations=iterations,
                                              epochs=epochs, **kwargs)
        self.checkpoint_extension = checkpoint_extension
        if checkpoint_extension is not None:
            checkpoint_extension.add_condition(
                ["after_batch"], OnLogRecord(notification_name), (checkpoint_filename,))
        kwargs.setdefault("before_training", True)
        super().__init__([tracking, stopping], **kwargs)

    def do(self, which_callback, *args):
        if which_callback != "before_training" or self.checkpoint_extension is None:
            return
        checkpoint = self.checkpoint_extension
        extensions = self.main_loop.extensions
        if not any(extension is checkpoint for extension in extensions):
            if not any(sub is checkpoint for sub in self.sub_extensions):
                logger.info("%s: the checkpoint extension is not among the main loop's "
                            "extensions; running it as a sub-extension", self.name)
                checkpoint.main_loop = self.main_loop
                self.sub_extensions.append(checkpoint)
        elif _index(extensions, checkpoint) < _index(extensions, self):
            logger.warning(
                "%s: the checkpoint extension comes before this extension in the main "
                "loop's extensions, so it runs before a new best is notified and saves the "
                "best model one check late; put it after", self.name)


def _index(items, item):
    return next((i for i, candidate in enumerate(items) if candidate is item), len(items))
