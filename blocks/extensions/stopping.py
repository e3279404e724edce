"""Early stopping."""

from blocks.extensions import SimpleExtension

__all__ = ["FinishIfNoImprovement"]


class FinishIfNoImprovement(SimpleExtension):
    """Finish training when a notification of improvement has not come for a while.

    An improvement is signalled by a true record `notification_name` in the current log
    row, as :class:`~blocks.extensions.training.TrackTheBest` writes; put that extension
    before this one in the main loop's list. Patience counts from the last improvement
    (or from the start of training).

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
        Triggers of :class:`~blocks.extensions.SimpleExtension`, to check at other times.

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
        unit = "epochs" if epochs is not None else "iterations"
        kwargs.setdefault("after_epoch" if unit == "epochs" else "after_batch", True)
        super().__init__(**kwargs)
        self.notification_name = notification_name
        self.patience = patience
        self.counter = f"{unit}_done"
        self.patience_log_record = (patience_log_record
                                    or f"{notification_name}_patience_{unit}")
        self.last_best = 0

    def do(self, which_callback, *args):
        log = self.main_loop.log
        done = log.status[self.counter]
        if log.current_row.get(self.notification_name, False):
            self.last_best = done
        remaining = self.last_best + self.patience - done
        log.current_row[self.patience_log_record] = remaining
        if remaining <= 0:
            log.current_row["training_finish_requested"] = True
