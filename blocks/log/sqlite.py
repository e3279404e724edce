"""A training log whose rows live in an SQLite database on disk (standard-library sqlite3)."""

import os
import pickle
import sqlite3
import warnings
from collections.abc import Mapping, MutableMapping

import numpy as np

from blocks.config import config
from blocks.log.log import TrainingLogBase, _check_iteration

__all__ = ["SQLiteLog", "SQLiteEntry"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS entries ("
    "uuid TEXT NOT NULL, iteration INTEGER NOT NULL, key TEXT NOT NULL, value, "
    "PRIMARY KEY (uuid, iteration, key))"
)


def _encode(value):
    # Numbers and strings are stored as SQL values so the database can be queried by
    # other tools; everything else (bools, arrays, tuples...) is pickled into a BLOB so
    # that it reads back with its type.
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, np.generic) and not isinstance(value, np.bool_):
        value = value.item()
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    blob = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    if len(blob) > config.max_blob_size and type(value) not in _WARNED_LARGE:
        # Once per type: a record written at every batch would repeat it endlessly.
        _WARNED_LARGE.add(type(value))
        warnings.warn(
            f"large objects stored in the SQLite log: a {type(value).__name__} of "
            f"{len(blob)} bytes (blocks.config.max_blob_size is {config.max_blob_size}); "
            f"every row holding one makes the database grow by as much",
            stacklevel=3,
        )
    return sqlite3.Binary(blob)


_WARNED_LARGE = set()


def _decode(value):
    if isinstance(value, bytes):
        return pickle.loads(value)
    return value


class SQLiteEntry(MutableMapping):
    """One row of an :class:`SQLiteLog`: a mapping read from and written to the database."""

    def __init__(self, log, iteration):
        self.log = log
        self.iteration = iteration

    def _where(self):
        return (self.log.uuid, self.iteration)

    def __getitem__(self, key):
        row = self.log.connection.execute(
            "SELECT value FROM entries WHERE uuid = ? AND iteration = ? AND key = ?",
            (*self._where(), key),
        ).fetchone()
        if row is None:
            raise KeyError(key)
        return _decode(row[0])

    def __setitem__(self, key, value):
        if not isinstance(key, str):
            raise TypeError(f"SQLite log record names must be str; received {key!r}")
        self.log.connection.execute(
            "INSERT OR REPLACE INTO entries (uuid, iteration, key, value) VALUES (?, ?, ?, ?)",
            (*self._where(), key, _encode(value)),
        )

    def __delitem__(self, key):
        cursor = self.log.connection.execute(
            "DELETE FROM entries WHERE uuid = ? AND iteration = ? AND key = ?",
            (*self._where(), key),
        )
        if cursor.rowcount == 0:
            raise KeyError(key)

    def _keys(self):
        return [
            key for (key,) in self.log.connection.execute(
                "SELECT key FROM entries WHERE uuid = ? AND iteration = ? ORDER BY rowid",
                self._where(),
            )
        ]

    def __iter__(self):
        return iter(self._keys())

    def __len__(self):
        return len(self._keys())

    def __repr__(self):
        return repr(dict(self.items()))


class SQLiteLog(TrainingLogBase, Mapping):
    """A training log stored in an SQLite database, selected with ``log_backend='sqlite'``.

    Rows are written to the database as they are recorded, so a long training run does
    not keep its log in memory and the log can be read while training goes on. Several
    logs can share one database: their rows are told apart by the log's uuid. The status
    is kept in memory and pickled with the log; a pickled log reconnects to its database
    when it is loaded.

    Numbers and strings are stored as SQL values (numpy scalars read back as Python
    numbers); other values (bools, arrays, tuples...) are pickled.

    Parameters
    ----------
    database : str, optional
        The database file; ``blocks.config.sqlite_database`` by default
        (``BLOCKS_SQLITE_DATABASE`` in the environment).
    uuid : str, optional

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), 'log.sqlite')
    >>> log = SQLiteLog(path)
    >>> log.current_row['cost'] = np.float64(0.5)
    >>> log.current_row['saved'] = True
    >>> dict(log[0])
    {'cost': 0.5, 'saved': True}
    """

    def __init__(self, database=None, uuid=None):
        TrainingLogBase.__init__(self, uuid)
        self.database = os.path.abspath(database if database is not None
                                        else config.sqlite_database)
        self._connection = None
        self.connection  # noqa: B018  (fail now if the database cannot be opened)

    @property
    def connection(self):
        """The open connection to the database (opened on first use)."""
        if self._connection is None:
            try:
                connection = sqlite3.connect(self.database, isolation_level=None,
                                             check_same_thread=False)
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
                connection.execute(_SCHEMA)
            except sqlite3.Error as error:
                raise OSError(
                    f"cannot open the SQLite training log database {self.database!r}: {error}"
                ) from error
            self._connection = connection
        return self._connection

    def __getitem__(self, iteration):
        return SQLiteEntry(self, _check_iteration(iteration))

    def _iterations(self):
        return [
            iteration for (iteration,) in self.connection.execute(
                "SELECT DISTINCT iteration FROM entries WHERE uuid = ? ORDER BY iteration",
                (self.uuid,),
            )
        ]

    def __iter__(self):
        return iter(self._iterations())

    def __len__(self):
        return len(self._iterations())

    def __contains__(self, iteration):
        return self.connection.execute(
            "SELECT 1 FROM entries WHERE uuid = ? AND iteration = ? LIMIT 1",
            (self.uuid, iteration),
        ).fetchone() is not None

    def resume(self):
        """Start a new uuid that holds a copy of the rows up to the current iteration.

        Rows written by the old run after the point it is resumed from (e.g. after the
        checkpoint that was loaded) are not carried over.
        """
        old_uuid = self.uuid
        super().resume()
        self.connection.execute(
            "INSERT INTO entries (uuid, iteration, key, value) SELECT ?, iteration, key, value "
            "FROM entries WHERE uuid = ? AND iteration <= ?",
            (self.uuid, old_uuid, self.status["iterations_done"]),
        )

    def close(self):
        """Close the connection to the database (it reopens on next use)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_connection"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
