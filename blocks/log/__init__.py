"""Training logs: the status of training and one row of records per iteration.

Two backends share one interface (:class:`TrainingLogBase`): :class:`TrainingLog` keeps
the rows in memory (the default), :class:`SQLiteLog` in an SQLite database on disk.
:func:`create_log` makes one by backend name, as :class:`~blocks.main_loop.MainLoop`
does for its ``log_backend`` argument.
"""

from blocks.config import config
from blocks.log.log import TrainingLog, TrainingLogBase
from blocks.log.sqlite import SQLiteEntry, SQLiteLog

__all__ = ["TrainingLogBase", "TrainingLog", "SQLiteLog", "SQLiteEntry", "BACKENDS",
           "create_log"]

#: Log classes by backend name.
BACKENDS = {"python": TrainingLog, "sqlite": SQLiteLog}


def create_log(backend=None, **kwargs):
    """A new, empty training log of the given backend.

    Parameters
    ----------
    backend : str, optional
        ``'python'`` (in memory) or ``'sqlite'``; ``blocks.config.log_backend`` by default.
    **kwargs
        Passed to the log class (e.g. ``database`` for ``'sqlite'``).

    >>> type(create_log('python')).__name__
    'TrainingLog'
    """
    if backend is None:
        backend = config.log_backend
    try:
        cls = BACKENDS[backend]
    except KeyError:
        raise ValueError(
            f"unknown training log backend {backend!r}; expected one of "
            f"{', '.join(sorted(BACKENDS))}"
        ) from None
    return cls(**kwargs)
