"""Our Numba implementation of PyTensor's reductions: values against NumPy for every
reduced axis set, layout and dtype, and the cases left to PyTensor's implementation."""

import itertools

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

# Our Numba implementation, which the linker uses inside a Scan's inner graphs.
pytestmark = [pytest.mark.numba, pytest.mark.usefixtures("every_node_compiled")]

rng = np.random.default_rng(3)


def _layouts(value):
    """The same values as a C-contiguous array, a transposed copy viewed back in the
    original axis order (strided in every axis but one), and a slice with a step."""
    transposed = np.ascontiguousarray(value.transpose()).transpose()
    padded = np.zeros(value.shape[:-1] + (2 * value.shape[-1],), value.dtype)
    padded[..., ::2] = value
    return {"C": value, "transposed": transposed, "stepped": padded[..., ::2]}


REDUCTIONS = {
    "sum": (pt.sum, np.sum),
    "prod": (pt.prod, np.prod),
    "max": (pt.max, np.max),
    "min": (pt.min, np.min),
}


ALL_AXIS_SETS = [None] + [axes for r in (1, 2, 3) for axes in
                          itertools.combinations(range(3), r)]


@pytest.mark.parametrize("name, dtype, axis_sets", [
    ("sum", "float64", ALL_AXIS_SETS), ("max", "float64", ALL_AXIS_SETS),
    ("prod", "float32", [(1,), None]), ("min", "float32", [(0, 2)]),
    ("max", "int64", [(2,), None]), ("min", "int64", [(0,)]), ("sum", "int64", [(1, 2)])])
def test_axis_sets_and_layouts_match_numpy(name, dtype, axis_sets):
    ours, reference = REDUCTIONS[name]
    x = pt.tensor3("x", dtype=dtype)
    function = pytensor.function([x], [ours(x, axis=axes) for axes in axis_sets])
    value = rng.uniform(0.5, 1.5, (3, 4, 5))
    value = (value * 3).astype(dtype) if dtype == "int64" else value.astype(dtype)
    for layout, array in _layouts(value).items():
        for axes, result in zip(axis_sets, function(array)):
            expected = reference(value, axis=axes)
            assert result.dtype == expected.dtype or result.dtype == dtype, (layout, axes)
            assert result.shape == np.shape(expected), (layout, axes)
            np.testing.assert_allclose(result, expected, rtol=1e-5,
                                       err_msg=f"{name} over {axes}, {layout}")


def test_max_of_a_row_of_minus_infinity_and_empty_sums():
    x = pt.matrix("x")
    function = pytensor.function([x], [pt.max(x, axis=1), pt.sum(x, axis=0)])
    value = np.array([[-np.inf, -np.inf], [1.0, -2.0]])
    maxima, sums = function(value)
    np.testing.assert_array_equal(maxima, [-np.inf, 1.0])
    np.testing.assert_array_equal(sums, [-np.inf, -np.inf])
    maxima, sums = function(np.zeros((0, 3)))
    assert maxima.shape == (0,)
    np.testing.assert_array_equal(sums, np.zeros(3))


def test_all_and_any_of_booleans():
    x = pt.matrix("x", dtype="bool")
    function = pytensor.function([x], [pt.all(x, axis=0), pt.any(x, axis=1), pt.all(x)])
    value = np.array([[True, False, True], [True, False, False]])
    columns, rows, everything = function(value)
    np.testing.assert_array_equal(columns, value.all(axis=0))
    np.testing.assert_array_equal(rows, value.any(axis=1))
    assert bool(everything) is False


def test_a_wider_accumulator_than_the_input():
    x = pt.vector("x", dtype="int8")
    total = pt.sum(x, acc_dtype="int64", dtype="int64")
    value = np.full(300, 100, dtype="int8")
    assert pytensor.function([x], total)(value) == 30000


def test_complex_reductions_keep_pytensors_code():
    x = pt.vector("x", dtype="complex128")
    value = np.array([1 + 2j, 3 - 1j])
    assert pytensor.function([x], pt.sum(x))(value) == value.sum()


def test_generated_code_is_one_loop_nest_without_sorting():
    from pytensor.scalar.basic import Add

    from blocks.ops.reduce.numba import reduction_source

    source = reduction_source(Add(), (0, 2), 3, np.dtype("float32"), np.dtype("float32"))
    assert "argsort" not in source and source.count("for ") == 3
    assert "result[i1] += x[i0, i1, i2]" in source
