"""Helpers for testing code written with Blocks: a mock algorithm and main loop, skips.

Skips raise :class:`unittest.SkipTest`, which pytest and unittest both report as a
skipped test.
"""

import contextlib
import functools
import io
import logging
import os
import time
import unittest
from importlib import import_module

from blocks.algorithms import TrainingAlgorithm
from blocks.config import config
from blocks.datasets import DataStream, IterableDataset
from blocks.main_loop import MainLoop

__all__ = ["MockAlgorithm", "MockMainLoop", "skip_if_not_available",
           "skip_if_configuration_set", "silence_printing"]


def silence_printing(test):
    """Decorate a test so that what it prints and logs (below ERROR) is not shown.

    >>> @silence_printing
    ... def noisy():
    ...     print('hello')
    ...     return 3
    >>> noisy()
    3
    """
    @functools.wraps(test)
    def silenced(*args, **kwargs):
        logger = logging.getLogger("blocks")
        level = logger.level
        logger.setLevel(logging.ERROR)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                return test(*args, **kwargs)
        finally:
            logger.setLevel(level)

    return silenced


def skip_if_not_available(modules=None, datasets=None, configurations=None):
    """Skip the calling test unless modules, datasets and settings are available.

    Parameters
    ----------
    modules : list of str, optional
        Modules that must import.
    datasets : list of str, optional
        Folders that must exist under ``config.data_path`` (which must be set).
    configurations : list of str, optional
        Settings of :mod:`blocks.config` that must have a value.

    Raises
    ------
    unittest.SkipTest
        Naming what is missing.

    Examples
    --------
    >>> skip_if_not_available(modules=['a_module_that_is_not_there'])
    Traceback (most recent call last):
    ...
    unittest.case.SkipTest: module a_module_that_is_not_there is not available ...
    """
    for module in modules or []:
        try:
            import_module(module)
        except Exception as error:
            raise unittest.SkipTest(f"module {module} is not available ({error})") from None
    for name in configurations or []:
        if not hasattr(config, name):
            raise unittest.SkipTest(f"blocks.config.{name} is not set")
    if datasets:
        data_path = getattr(config, "data_path", None)
        if data_path is None:
            raise unittest.SkipTest("blocks.config.data_path is not set")
        for dataset in datasets:
            if not os.path.exists(os.path.join(data_path, dataset)):
                raise unittest.SkipTest(f"dataset {dataset} is not in {data_path}")


def skip_if_configuration_set(configuration, value, message=None):
    """Skip the calling test if ``blocks.config.<configuration> == value``.

    Parameters
    ----------
    configuration : str
    value : object
    message : str, optional
        The reason given for the skip.

    Examples
    --------
    >>> skip_if_configuration_set('log_backend', 'python')
    Traceback (most recent call last):
    ...
    unittest.case.SkipTest: blocks.config.log_backend is 'python'
    """
    if getattr(config, configuration) == value:
        raise unittest.SkipTest(message or f"blocks.config.{configuration} is {value!r}")


class MockAlgorithm(TrainingAlgorithm):
    """An algorithm that keeps the last batch and checks that it is initialized once.

    Parameters
    ----------
    delay_time : float
        Seconds to sleep on every batch (to test timing extensions).

    Attributes
    ----------
    batch : dict
        The last batch processed.
    """

    def __init__(self, delay_time=0):
        self._initialized = False
        self.delay_time = delay_time
        self.batch = None

    def initialize(self, **kwargs):
        if self._initialized:
            raise AssertionError("MockAlgorithm.initialize was called twice")
        self._initialized = True

    def process_batch(self, batch):
        self.batch = batch
        if self.delay_time:
            time.sleep(self.delay_time)


class MockMainLoop(MainLoop):
    """A main loop over the examples 0 to 9 (source ``data``) with a :class:`MockAlgorithm`.

    Parameters
    ----------
    delay_time : float
        Passed to the :class:`MockAlgorithm`.
    **kwargs
        Arguments of :class:`~blocks.main_loop.MainLoop`, replacing the defaults
        (``algorithm``, ``data_stream``, ``extensions``...).

    Examples
    --------
    >>> from blocks.extensions import FinishAfter
    >>> main_loop = MockMainLoop(extensions=[FinishAfter(after_n_epochs=2)])
    >>> main_loop.run()
    >>> main_loop.status['iterations_done'], main_loop.algorithm.batch
    (20, {'data': 9})
    """

    def __init__(self, delay_time=0, **kwargs):
        kwargs.setdefault("data_stream", DataStream(IterableDataset(range(10))))
        kwargs.setdefault("algorithm", MockAlgorithm(delay_time))
        super().__init__(**kwargs)
