"""Where datasets' files live: the data path (``blocks.config.data_path``).

The data path is one directory or several separated by ``os.pathsep`` (``:`` on
Linux). It is read from ``blocks.config.data_path`` when the configuration has that
setting, else from the environment variable ``BLOCKS_DATA_PATH`` (or Fuel's
``FUEL_DATA_PATH``) at the time of the call.
"""

import os

__all__ = ["data_path_directories", "find_in_data_path"]


def data_path_directories():
    """The directories of the data path, in search order (user and variables expanded)."""
    from blocks.config import config

    # Another part of the configuration may or may not declare data_path yet.
    value = getattr(config, "data_path", None)
    if not value:
        value = os.environ.get("BLOCKS_DATA_PATH") or os.environ.get("FUEL_DATA_PATH", "")
    if isinstance(value, (list, tuple)):
        directories = [str(directory) for directory in value]
    else:
        directories = str(value).split(os.pathsep)
    return [os.path.expanduser(os.path.expandvars(directory))
            for directory in directories if directory]


def find_in_data_path(filename, owner="blocks.datasets"):
    """The path of `filename` in the first directory of the data path that has it.

    Raises
    ------
    FileNotFoundError
        Naming the file, the directories searched, and how to set the data path.
    """
    directories = data_path_directories()
    for directory in directories:
        path = os.path.join(directory, filename)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(missing_message(owner, repr(filename), filename, directories))


def missing_message(owner, what, filename, directories=None):
    """The error message for a dataset's `what` (e.g. a file name) missing from the data path.

    `filename` is the file the message gives as the expected path in each directory.
    """
    if directories is None:
        directories = data_path_directories()
    if not directories:
        return (f"{owner}: cannot find {what}: the data path is not set; set "
                f"blocks.config.data_path or the environment variable BLOCKS_DATA_PATH to the "
                f"directory that holds it")
    expected = ", ".join(os.path.join(directory, filename) for directory in directories)
    return (f"{owner}: cannot find {what} in the data path {directories} "
            f"(blocks.config.data_path / BLOCKS_DATA_PATH); expected {expected}")
