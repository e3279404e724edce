"""Our Numba implementation of PyTensor's Alloc: values against NumPy's broadcasting,
and the error for a value that does not fit."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

# Our Numba implementation, which the linker uses inside a Scan's inner graphs.
pytestmark = [pytest.mark.numba, pytest.mark.usefixtures("every_node_compiled")]


def test_scalars_vectors_and_broadcast_axes_fill_like_numpy():
    scalar, row = pt.scalar("scalar"), pt.matrix("row", shape=(1, None))
    column = pt.tensor3("column", shape=(None, 1, None))
    n, m = pt.iscalar("n"), pt.iscalar("m")
    function = pytensor.function([scalar, row, column, n, m], [
        pt.alloc(scalar, n, m), pt.alloc(row, n, m), pt.alloc(row, 2, n, m),
        pt.alloc(column, n, 3, m)])
    rng = np.random.default_rng(0)
    values = [np.float64(1.5), rng.standard_normal((1, 4)), rng.standard_normal((3, 1, 4))]
    results = function(*values, 3, 4)
    expected = [np.full((3, 4), 1.5), np.broadcast_to(values[1], (3, 4)),
                np.broadcast_to(values[1], (2, 3, 4)), np.broadcast_to(values[2], (3, 3, 4))]
    for result, reference in zip(results, expected):
        np.testing.assert_array_equal(result, reference)
        assert result.flags.c_contiguous and result.dtype == reference.dtype


def test_a_value_that_does_not_fit_is_refused_with_both_shapes():
    vector, n = pt.vector("vector"), pt.iscalar("n")
    function = pytensor.function([vector, n], pt.alloc(vector, 2, n))
    np.testing.assert_array_equal(function(np.arange(3.0), 3), [[0, 1, 2], [0, 1, 2]])
    with pytest.raises(ValueError, match=r"Alloc: the value does not fill an array of the "
                                         r"requested shape"):
        function(np.arange(4.0), 3)
    # Length 1 at run time is not broadcast where the type does not say so.
    with pytest.raises(ValueError, match="broadcasts only if its type says so"):
        function(np.arange(1.0), 3)
