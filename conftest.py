"""Test configuration shared by the unit tests and the doctests in ``blocks/``.

Most tests compile with PyTensor's FAST_COMPILE mode (Python implementations, no code
generation), so that a fresh machine with an empty compile cache runs the suite in
minutes. Tests marked ``numba`` run under the default mode (the Numba linker), so that
both paths are covered.
"""

import numpy as np
import pytensor
import pytest

pytensor.config.mode = "FAST_COMPILE"


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


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace):
    doctest_namespace["np"] = np
    doctest_namespace["numpy"] = np
    doctest_namespace["pytensor"] = pytensor
