"""LookupTable against numpy indexing."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad
from pytensor.graph.replace import clone_replace

from blocks.bricks.lookup import LookupTable
from blocks.initialization import Constant, IsotropicGaussian
from blocks.roles import WEIGHT, has_roles


@pytest.fixture(scope="module")
def lookup():
    table = LookupTable(length=5, dim=3, weights_init=IsotropicGaussian(), seed=7)
    table.initialize()
    return table


@pytest.mark.parametrize("indices, value", [
    (pt.lscalar(), np.int64(4)),
    (pt.ivector(), np.array([0, 4, 4, 1], dtype="int32")),
    (pt.lmatrix(), np.array([[1, 2], [3, 0], [4, 4]])),
    (pt.tensor(dtype="uint8", shape=(None, None, None)), np.zeros((2, 1, 2), dtype="uint8")),
])
def test_lookup_matches_numpy(lookup, indices, value):
    output = lookup.apply(indices)
    assert output.ndim == indices.ndim + 1
    assert output.name == "lookuptable_apply_output"
    np.testing.assert_allclose(output.eval({indices: value}), lookup.W.get_value()[value])


def test_lookup_parameter_and_dims(lookup):
    assert lookup.parameters == [lookup.W] and has_roles(lookup.W, [WEIGHT])
    assert lookup.W.get_value().shape == (5, 3)
    assert (lookup.input_dim, lookup.output_dim) == (5, 3)
    assert lookup.get_dim("output") == 3 and lookup.get_dim("indices") == 0
    assert lookup.has_bias is False


def test_lookup_grad(lookup):
    indices = np.array([[0, 2], [2, 4]])

    def function(W):
        return clone_replace(lookup.apply(pt.as_tensor(indices)), {lookup.W: W})

    verify_grad(function, [lookup.W.get_value()], rng=np.random.default_rng(0))


def test_lookup_errors():
    lookup = LookupTable(length=5, dim=3)
    with pytest.raises(TypeError, match="LookupTable 'lookuptable': argument 'indices': "
                                        "expected an integer dtype, found float64"):
        lookup.apply(pt.matrix())
    with pytest.raises(TypeError, match="argument 'indices' must be a symbolic variable"):
        lookup.apply("words")
    checked = LookupTable(length=5, dim=3, indices_ndim=2, name="words")
    with pytest.raises(ValueError, match="LookupTable 'words': argument 'indices': expected "
                                         "ndim=2, found ndim=1"):
        checked.apply(pt.lvector())
    assert checked.apply(pt.lmatrix()).ndim == 3
    with pytest.raises(ValueError, match="cannot .*: dim is not set"):
        LookupTable(length=5).allocate()
    with pytest.raises(ValueError, match="LookupTable 'lookuptable' has no biases"):
        LookupTable(length=5, dim=3, biases_init=Constant(0))
    with pytest.raises(ValueError, match="weights_init is not set"):
        LookupTable(length=5, dim=3).initialize()


def test_lookup_setters():
    lookup = LookupTable()
    lookup.input_dim, lookup.output_dim = 7, 2
    assert (lookup.length, lookup.dim) == (7, 2)
    lookup.allocate()
    assert lookup.W.get_value().shape == (7, 2)


def _lookup_function(name):
    table = LookupTable(length=5, dim=2, weights_init=Constant(1), name=name)
    table.initialize()
    indices = pt.lmatrix("indices")
    return pytensor.function([indices], table.apply(indices))


@pytest.mark.parametrize("mode", [
    pytest.param("FAST_COMPILE"),
    pytest.param("NUMBA", marks=pytest.mark.numba),
])
def test_lookup_refuses_indices_out_of_range_at_run_time(mode):
    lookup = _lookup_function(f"words_{mode.lower()}")
    assert lookup(np.array([[0, 4]])).shape == (1, 2, 2)
    where = f"LookupTable 'words_{mode.lower()}'"
    for bad in (5, 7, -1):
        with pytest.raises(IndexError, match=rf"^{where}: index {bad} is out of range for "
                                             rf"a table of length 5 \(indices must lie in "
                                             rf"\[0, 5\)\)"):
            lookup(np.array([[0, 1], [bad, 2]]))


@pytest.mark.parametrize("mode", [
    pytest.param("FAST_COMPILE"),
    pytest.param("NUMBA", marks=pytest.mark.numba),
])
def test_negative_indices_where_allowed_read_from_the_end(mode):
    # As a LookupFeedback does, for Blocks' initial_output=-1.
    table = LookupTable(length=5, dim=2, weights_init=Constant(1), name="feedback")
    table.allow_negative_indices = True
    table.initialize()
    table.W.set_value(np.arange(10.0).reshape(5, 2))
    indices = pt.lvector("indices")
    function = pytensor.function([indices], table.apply(indices))
    np.testing.assert_array_equal(function(np.array([-1, -5, 4])),
                                  table.W.get_value()[[-1, -5, 4]])
    for bad in (-6, 5):
        with pytest.raises(IndexError, match=rf"index {bad} is out of range for a table of "
                                             rf"length 5 \(indices must lie in \[-5, 5\)\)"):
            function(np.array([bad]))
