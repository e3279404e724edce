"""Run-time checks and run-time errors of our ops: the brick, what was expected, the shapes."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad

from blocks.bricks import MLP, Tanh
from blocks.initialization import Constant
from blocks.ops.blas.op import blas_dot, blas_gemm
from blocks.ops.checks.op import LastDimCheck, check_indices, ensure_last_dim

both_modes = pytest.mark.parametrize("mode", [
    pytest.param("FAST_COMPILE"),
    pytest.param("NUMBA", marks=pytest.mark.numba),
    # Every node compiled, as in a Scan's inner graph.
    pytest.param("NUMBA, compiled", marks=pytest.mark.numba),
])


@both_modes
def test_a_linear_fed_the_wrong_width_names_itself_and_the_shape(mode, request):
    if mode.endswith("compiled"):
        request.getfixturevalue("every_node_compiled")
    mlp = MLP([Tanh(), None], [3, 4, 2], weights_init=Constant(1), biases_init=Constant(0))
    mlp.initialize()
    x = pt.matrix("x")
    function = pytensor.function([x], mlp.apply(x))
    assert function(np.ones((2, 3))).shape == (2, 2)
    with pytest.raises(ValueError, match=r"^Linear 'linear_0': argument 'input_': expected the "
                                         r"last dimension to be 3, found shape \(2, 5\)"):
        function(np.ones((2, 5)))


def test_last_dim_check_passes_values_and_gradients():
    x = pt.tensor3("x")
    checked = ensure_last_dim(x, 4, "here")
    assert isinstance(checked.owner.op, LastDimCheck) and checked.type.shape == (None, None, 4)
    assert ensure_last_dim(checked, 4, "here") is checked  # known statically: no second check
    value = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(checked.eval({x: value}), value)
    verify_grad(lambda v: ensure_last_dim(v, 4, "here") ** 2, [value],
                rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="expected ndim >= 1"):
        ensure_last_dim(pt.scalar(), 1, "here")


@pytest.mark.numba
@pytest.mark.parametrize("compiled", [False, True])
def test_blas_errors_give_the_operands_shapes(compiled, request):
    if compiled:
        request.getfixturevalue("every_node_compiled")
    x, y, z = pt.matrices("x", "y", "z")
    a = pt.scalar("a")
    dot = pytensor.function([x, y], blas_dot(x, y))
    with pytest.raises(ValueError, match=r"^BlasDot: shapes \(2, 5\) and \(3, 4\) are not "
                                         r"aligned for a matrix product"):
        dot(np.ones((2, 5)), np.ones((3, 4)))
    gemm = pytensor.function([z, a, x, y], blas_gemm(z, a, x, y, 1.0))
    with pytest.raises(ValueError, match=r"^BlasGemm: z of shape \(2, 2\) and x, y of shapes "
                                         r"\(2, 3\) and \(3, 4\) do not match"):
        gemm(np.ones((2, 2)), 1.0, np.ones((2, 3)), np.ones((3, 4)))


def test_checks_under_jax():
    pytest.importorskip("jax")
    x, indices = pt.matrix("x"), pt.lvector("indices")
    checked = pytensor.function([x, indices], [ensure_last_dim(x, 3, "Linear 'l': input_"),
                                               check_indices(indices, 5, "LookupTable 't'")],
                                mode="JAX")
    values, taken = checked(np.ones((2, 3)), np.array([0, 4]))
    np.testing.assert_array_equal(values, np.ones((2, 3)))
    np.testing.assert_array_equal(taken, [0, 4])
    # Shapes are static under JAX: the last dimension is checked when the call is traced.
    with pytest.raises(ValueError, match=r"Linear 'l': input_: expected the last dimension to "
                                         r"be 3, found shape \(2, 4\)"):
        checked(np.ones((2, 4)), np.array([0]))
