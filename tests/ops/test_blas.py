"""BlasDot and BlasGemm: values against NumPy for every operand layout, and bad input."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from blocks.ops import python_nodes
from blocks.ops.blas.op import BlasGemm, blas_dot, blas_gemm, blas_gemm_inplace

rng = np.random.default_rng(7)
A = rng.standard_normal((5, 4))
B = rng.standard_normal((4, 3))
C = rng.standard_normal((5, 3))
BIG = rng.standard_normal((10, 8))


def _layout_cases(a, b, c, big):
    """Products whose operands are views of every layout BLAS meets, with references.

    Works on symbolic variables and on NumPy arrays alike.
    """
    return {
        "C @ C": (a, b),
        "F @ C": (big[:4, :5].T, b),                          # transposed view
        "F @ F": (big[:4, :5].T, big[:3, :4].T),
        "row stride": (big[::2, :4], b),                      # leading dimension 16
        "column slice": (big[:5, 2:6], b),                    # leading dimension 8
        "no unit stride": (big[::2, ::2], big[:4, :3]),       # copied
        "one row": (a[:1], b),
        "one column": (a, b[:, :1]),
        "inner 1": (a[:, :1], b[:1]),
        "inner 0": (a[:, :0], b[:0]),
        "no rows": (a[:0], b),
    }


def _gemm_cases(a, b, c, big):
    # (z, alpha, x, y, beta)
    return {
        "C z": (c, -0.5, a, b, 2.0),
        "F z": (big[:3, :5].T, 1.5, a, big[:3, :4].T, -1.0),
        "strided z": (big[:5, ::2][:, :3], 1.0, big[:4, :5].T, b, 1.0),
        "inner 0": (c, 2.0, a[:, :0], b[:0], 3.0),
    }


def _reference_gemm(z, alpha, x, y, beta):
    return beta * z + alpha * (x @ y)


def test_values_python():
    a, b, c, big = pt.matrices("a", "b", "c", "big")
    data = (A, B, C, BIG)
    for name, (x, y) in _layout_cases(a, b, c, big).items():
        expected = np.dot(*_layout_cases(*data)[name])
        got = blas_dot(x, y).eval(dict(zip((a, b, c, big), data)), on_unused_input="ignore")
        np.testing.assert_allclose(got, expected, err_msg=name)
    for name, args in _gemm_cases(a, b, c, big).items():
        expected = _reference_gemm(*_gemm_cases(*data)[name])
        got = blas_gemm(*args).eval(dict(zip((a, b, c, big), data)), on_unused_input="ignore")
        np.testing.assert_allclose(got, expected, err_msg=name)


def test_beta_zero_ignores_z():
    z = pt.matrix("z")
    out = blas_gemm(z, 2.0, pt.constant(A), pt.constant(B), 0.0)
    np.testing.assert_allclose(out.eval({z: np.full((5, 3), np.nan)}), 2 * A @ B)


def test_float32_keeps_dtype():
    x, y = pt.matrix("x", dtype="float32"), pt.matrix("y", dtype="float32")
    out = blas_dot(x, y)
    assert out.dtype == "float32"
    got = out.eval({x: A.astype("float32"), y: B.astype("float32")})
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, A @ B, rtol=1e-5)


def test_inplace_gemm_writes_into_z():
    z = pt.matrix("z")
    fn = pytensor.function([pytensor.In(z, mutable=True)],
                           blas_gemm_inplace(z, -1.0, pt.constant(A), pt.constant(B), 1.0),
                           accept_inplace=True)
    assert fn.maker.fgraph.toposort()[-1].op.destroy_map == {0: [0]}
    data = C.copy()
    fn(data)
    np.testing.assert_allclose(data, C - A @ B)


@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("z_layout", ["C", "F", "strided"])
def test_gemm_perform_writes_z_of_every_layout(z_layout, inplace):
    """The Python implementation: one BLAS call into z when z is contiguous either way
    (its transpose, for a C-ordered z), a product and an update otherwise."""
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((5, 4)), rng.standard_normal((4, 3))
    z = {"C": C.copy(), "F": np.asfortranarray(C),
         "strided": np.repeat(C, 2, axis=1)[:, ::2]}[z_layout]
    original = z.copy()
    for x_value, y_value in ((x, y), (np.asfortranarray(x), y.T.copy().T),
                             (np.repeat(x, 2, axis=0)[::2], y)):
        z[...] = original
        node = BlasGemm(inplace=inplace).make_node(pt.matrix(), -0.5, pt.matrix(),
                                                   pt.matrix(), 2.0)
        cell = [None]
        node.op.perform(node, [z, np.array(-0.5), x_value, y_value, np.array(2.0)], [cell])
        np.testing.assert_allclose(cell[0], 2.0 * original - 0.5 * x @ y)
        assert (cell[0] is z) == inplace
        if not inplace:
            np.testing.assert_array_equal(z, original)


def test_static_shapes_and_infer_shape():
    x = pt.tensor("x", shape=(5, 4))
    y = pt.tensor("y", shape=(4, None))
    assert blas_dot(x, y).type.shape == (5, None)
    z = pt.tensor("z", shape=(None, 3))
    assert blas_gemm(z, 1.0, x, y, 1.0).type.shape == (5, 3)
    dyn_x, dyn_y = pt.matrices("dx", "dy")
    shape = blas_dot(dyn_x, dyn_y).shape.eval({dyn_x: A, dyn_y: B})
    assert tuple(shape) == (5, 3)


@pytest.mark.parametrize("build, message", [
    (lambda: blas_dot(pt.vector("v"), pt.matrix("m")), "argument 'x': expected ndim=2"),
    (lambda: blas_dot(pt.lmatrix("i"), pt.lmatrix("j")),
     "argument 'x': expected dtype in"),
    (lambda: blas_dot(pt.matrix("m", dtype="float64"), pt.matrix("n", dtype="float32")),
     "argument 'y': expected dtype float64"),
    (lambda: blas_gemm(pt.matrix("z"), pt.vector("a"), pt.matrix("x"), pt.matrix("y"), 1.0),
     "argument 'alpha': expected ndim=0"),
])
def test_bad_input_types(build, message):
    with pytest.raises(TypeError, match=message):
        build()


def test_bad_static_shapes():
    with pytest.raises(ValueError, match="BlasDot: shapes .* not aligned"):
        blas_dot(pt.tensor("x", shape=(2, 3)), pt.tensor("y", shape=(4, 2)))
    with pytest.raises(ValueError, match="argument 'z' has static shape"):
        blas_gemm(pt.tensor("z", shape=(3, 3)), 1.0, pt.tensor("x", shape=(2, 3)),
                  pt.tensor("y", shape=(3, 3)), 1.0)


def test_bad_runtime_shapes_python():
    x, y, z = pt.matrices("x", "y", "z")
    with pytest.raises(ValueError, match="not aligned"):
        blas_dot(x, y).eval({x: A, y: A})
    with pytest.raises(ValueError, match=r"z of shape \(5, 4\) and x, y of shapes"):
        blas_gemm(z, 1.0, x, y, 1.0).eval({z: A, x: A, y: B})


def test_gemm_props():
    assert BlasGemm(inplace=True) == blas_gemm_inplace
    assert blas_gemm != blas_gemm_inplace
    assert not hasattr(blas_gemm, "destroy_map") or blas_gemm.destroy_map == {}


# The Numba test compiles one function; these cases cover every path of its layout logic.
NUMBA_DOTS = ["C @ C", "F @ C", "F @ F", "row stride", "no unit stride", "one column",
              "inner 0"]
NUMBA_GEMMS = ["F z", "strided z"]


@pytest.fixture(scope="module")
def numba_function():
    """One Numba-compiled function computing the layout cases (one compilation)."""
    a, b, c, big, nans, z = pt.matrices("a", "b", "c", "big", "nans", "z")
    dots = [blas_dot(*_layout_cases(a, b, c, big)[name]) for name in NUMBA_DOTS]
    gemms = [blas_gemm(*_gemm_cases(a, b, c, big)[name]) for name in NUMBA_GEMMS]
    zero_beta = blas_gemm(nans, 2.0, a, b, 0.0)
    inplace = blas_gemm_inplace(z, -1.0, a, b, 1.0)
    with pytest.MonkeyPatch.context() as patch:
        # Every node compiled: the linker otherwise runs these with SciPy's BLAS.
        patch.setattr(python_nodes, "ENABLED", False)
        return pytensor.function(
            [a, b, c, big, nans, pytensor.In(z, mutable=True)],
            [*dots, *gemms, zero_beta, inplace], mode="NUMBA", accept_inplace=True,
            on_unused_input="ignore")


@pytest.mark.numba
def test_values_numba(numba_function):
    data = (A, B, C, BIG)
    z = C.copy()
    outputs = numba_function(*data, np.full((5, 3), np.nan), z)
    expected = [np.dot(*_layout_cases(*data)[name]) for name in NUMBA_DOTS]
    expected += [_reference_gemm(*_gemm_cases(*data)[name]) for name in NUMBA_GEMMS]
    expected += [2 * A @ B, C - A @ B]
    names = [*NUMBA_DOTS, *(f"gemm {n}" for n in NUMBA_GEMMS), "beta 0", "inplace"]
    assert len(outputs) == len(expected)
    for name, got, want in zip(names, outputs, expected):
        assert got.shape == want.shape, name
        np.testing.assert_allclose(got, want, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(z, C - A @ B)   # written in place


@pytest.mark.numba
def test_bad_runtime_shapes_numba(numba_function):
    with pytest.raises(ValueError, match="not aligned|do not match"):
        numba_function(A, A, C, BIG, C.copy(), C.copy())
