"""Predicates on the training log, for the conditions of extensions.

A predicate is a picklable callable that takes the main loop's log and says whether an
extension's condition holds (see :meth:`~blocks.extensions.SimpleExtension.add_condition`).
"""

__all__ = ["OnLogRecord"]


class OnLogRecord:
    """True when the current log row holds a true record `record_name`.

    For instance, save a checkpoint to another file whenever a new best validation cost
    is notified by :class:`~blocks.extensions.training.TrackTheBest`.

    Parameters
    ----------
    record_name : str

    Examples
    --------
    >>> from blocks.extensions.saveload import Checkpoint
    >>> checkpoint = Checkpoint('model.tar', after_epoch=True)
    >>> checkpoint = checkpoint.add_condition(
    ...     ['after_epoch'], OnLogRecord('valid_cost_best_so_far'), ('best_model.tar',))
    >>> from blocks.log import TrainingLog
    >>> log = TrainingLog()
    >>> OnLogRecord('valid_cost_best_so_far')(log)
    False
    >>> log.current_row['valid_cost_best_so_far'] = True
    >>> OnLogRecord('valid_cost_best_so_far')(log)
    True
    """

    def __init__(self, record_name):
        if not isinstance(record_name, str):
            raise TypeError(f"OnLogRecord: record_name must be a str; received {record_name!r}")
        self.record_name = record_name

    def __call__(self, log):
        return bool(log.current_row.get(self.record_name, False))

    def __eq__(self, other):
        return type(other) is type(self) and other.record_name == self.record_name

    def __hash__(self):
        return hash((type(self), self.record_name))

    def __repr__(self):
        return f"OnLogRecord({self.record_name!r})"
