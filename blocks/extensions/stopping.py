"""Early stopping."""

import bisect

from blocks.extensions import SimpleExtension, set_default_trigger

__all__ = ["FinishIfNoImprovement"]


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
        if (iterations is None) == (epochs is None):
            raise ValueError("FinishIfNoImprovement: give exactly one of iterations and epochs")
        patience = iterations if epochs is None else epochs
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(
                f"FinishIfNoImprovement: patience must be a positive integer; received "
                f"{patience!r}"
            )
        self.in_epochs = epochs is not None
        unit = "epochs" if self.in_epochs else "iterations"
        set_default_trigger(kwargs, "after_epoch" if self.in_epochs else "after_batch")
        super().__init__(**kwargs)
        self.notification_name = notification_name
        self.patience = patience
        self.patience_log_record = (patience_log_record
                                    or f"{notification_name}_patience_{unit}")
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
