"""Test configuration shared by the unit tests and the doctests in ``blocks/``.

Most tests compile with PyTensor's FAST_COMPILE mode (Python implementations, no code
generation), so that a fresh machine with an empty compile cache runs the suite in
minutes. Tests marked ``numba`` run under the default mode (the Numba linker), so that
both paths are covered.
"""

import doctest
import importlib.util
import inspect

import numpy as np
import pytensor
import pytest

from blocks.bricks.base import Application

pytensor.config.mode = "FAST_COMPILE"


def _installed(package):
    try:
        return importlib.util.find_spec(package) is not None
    except ImportError:
        return False


# The JAX implementations of our ops import JAX: without the jax extra, their modules are
# not collected for their doctests (the tests that need JAX skip themselves).
collect_ignore_glob = [] if _installed("jax") else [
    "blocks/ops/*/jax*.py", "blocks/ops/jax_glue.py"]

_find_lineno = doctest.DocTestFinder._find_lineno


def _find_application_lineno(self, obj, source_lines):
    # doctest locates docstrings of functions, classes and modules only; without this a
    # failing example of an application method is reported at an unknown line.
    if isinstance(obj, Application):
        obj = inspect.unwrap(obj.application_function)
    return _find_lineno(self, obj, source_lines)


# pytest's doctest finder is a subclass it builds per module, so the base class is the
# one place to teach it.
doctest.DocTestFinder._find_lineno = _find_application_lineno


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "numba: run the test under PyTensor's default (Numba) mode"
    )


@pytest.fixture(autouse=True)
def _compile_mode(request):
    mode = "NUMBA" if request.node.get_closest_marker("numba") else "FAST_COMPILE"
    previous = pytensor.config.mode
    pytensor.config.mode = mode
    yield
    pytensor.config.mode = previous


@pytest.fixture
def every_node_compiled(monkeypatch):
    """The Numba linker compiles every node, as it does inner graphs of a ``Scan``:
    for tests of our Numba implementations of ops it otherwise runs with NumPy."""
    from blocks.ops import python_nodes

    monkeypatch.setattr(python_nodes, "ENABLED", False)


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace):
    doctest_namespace["np"] = np
    doctest_namespace["numpy"] = np
    doctest_namespace["pytensor"] = pytensor
