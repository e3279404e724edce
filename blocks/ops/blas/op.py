"""Matrix products that hand their operands' memory layout to BLAS instead of copying.

PyTensor's Numba backend computes ``Dot`` with Numba's ``np.dot``, which copies any
operand that is not typed as C- or Fortran-contiguous. Transposes (``W.T``, ``x.T``)
are strided views for Numba, so every transposed operand of a backward pass is copied
before the product: for a 1024x1024 weight that copy costs more than the product itself.
The ops here read the strides at run time and pass a transposed operand to BLAS as a
transpose flag, so nothing is copied, and :class:`BlasGemm` folds ``Z + alpha * X @ Y``
(an SGD update ``W - lr * dot(h.T, g)``) into one BLAS call writing into ``Z`` in place.

The rewrites in :mod:`blocks.ops.rewrites` put them into every graph compiled with the
Numba linker; other linkers keep PyTensor's own ops.

Examples
--------
>>> import pytensor.tensor as pt
>>> from blocks.ops.blas.op import blas_dot, blas_gemm
>>> x, y, z = pt.matrices('x', 'y', 'z')
>>> a, b = pt.scalars('a', 'b')
>>> ones = np.ones((2, 2))
>>> blas_dot(x, y).eval({x: ones, y: ones}).tolist()
[[2.0, 2.0], [2.0, 2.0]]
>>> blas_gemm(z, a, x, y, b).eval({z: ones, a: -0.5, x: ones, y: ones, b: 3.0}).tolist()
[[2.0, 2.0], [2.0, 2.0]]
"""

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

__all__ = ["BlasDot", "BlasGemm", "blas_dot", "blas_gemm", "blas_gemm_inplace"]

#: Dtypes BLAS multiplies; other products stay with PyTensor's ``Dot``.
BLAS_DTYPES = ("float32", "float64")



def _blas_operand(matrix):
    """`matrix` as a Fortran-ordered array and the transpose flag that gives it back."""
    if matrix.flags.f_contiguous:
        return matrix, 0
    if matrix.flags.c_contiguous:
        return matrix.T, 1
    return np.asfortranarray(matrix), 0


def _gemm_into(c, alpha, a, b, beta):
    """``c[...] = beta * c + alpha * a @ b``, in one BLAS call when ``c`` is contiguous
    (``c`` is not read where ``beta`` is 0).

    The BLAS is SciPy's, the one our Numba kernels call: NumPy bundles another OpenBLAS,
    with a pool of threads of its own, and a step alternating between the two keeps two
    pools busy on the same cores.
    """
    from scipy.linalg.blas import get_blas_funcs

    if c.size == 0 or a.shape[1] == 0 or not (c.flags.c_contiguous or c.flags.f_contiguous):
        product = alpha * np.dot(a, b)
        c[...] = product if beta == 0 else beta * c + product
        return
    if not c.flags.f_contiguous:
        # c.T is Fortran-ordered: c.T = beta * c.T + alpha * b.T @ a.T.
        c, a, b = c.T, b.T, a.T
    (a, trans_a), (b, trans_b) = _blas_operand(a), _blas_operand(b)
    gemm = get_blas_funcs("gemm", dtype=c.dtype)
    result = gemm(float(alpha), a, b, float(beta), c, trans_a=trans_a, trans_b=trans_b,
                  overwrite_c=1)
    if result is not c and not np.shares_memory(result, c):
        c[...] = result


def _as_matrix(op, argument, value, dtype=None):
    variable = pt.as_tensor_variable(value)
    if variable.ndim != 2:
        raise TypeError(
            f"{type(op).__name__}: argument {argument!r}: expected ndim=2, "
            f"found ndim={variable.ndim}"
        )
    if variable.dtype not in BLAS_DTYPES:
        raise TypeError(
            f"{type(op).__name__}: argument {argument!r}: expected dtype in {BLAS_DTYPES}, "
            f"found {variable.dtype}"
        )
    if dtype is not None and variable.dtype != dtype:
        raise TypeError(
            f"{type(op).__name__}: argument {argument!r}: expected dtype {dtype} (like the "
            f"first argument), found {variable.dtype}"
        )
    return variable


def _check_product_shapes(op, x_shape, y_shape):
    if x_shape[1] != y_shape[0]:
        raise ValueError(
            f"{type(op).__name__}: shapes {tuple(x_shape)} and {tuple(y_shape)} are not "
            f"aligned for a matrix product"
        )


def _static_product_shape(op, x, y):
    (rows, inner), (inner_y, cols) = x.type.shape, y.type.shape
    if inner is not None and inner_y is not None:
        _check_product_shapes(op, (rows, inner), (inner_y, cols))
    return rows, cols


class BlasDot(Op):
    """The product of two matrices of one float dtype, with no copy of strided operands.

    Same result as ``pytensor.tensor.dot`` on matrices. Its Numba implementation passes
    row-major, column-major (e.g. transposed) and row-sliced operands to BLAS as they
    lie in memory; only operands with no unit stride are copied.
    """

    __props__ = ()

    def make_node(self, x, y):
        x = _as_matrix(self, "x", x)
        y = _as_matrix(self, "y", y, x.dtype)
        out = pt.tensor(dtype=x.dtype, shape=_static_product_shape(self, x, y))
        return Apply(self, [x, y], [out])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        _check_product_shapes(self, x.shape, y.shape)
        out = np.empty((x.shape[0], y.shape[1]), dtype=node.outputs[0].dtype)
        _gemm_into(out, 1.0, x, y, 0.0)
        output_storage[0][0] = out

    def infer_shape(self, fgraph, node, shapes):
        (rows, _), (_, cols) = shapes
        return [(rows, cols)]


class BlasGemm(Op):
    """``beta * z + alpha * dot(x, y)`` in one BLAS call, optionally overwriting ``z``.

    Parameters
    ----------
    inplace : bool
        Whether the result is written into ``z``'s memory (``z`` is destroyed). The
        rewrites create the op out of place and switch to in place where PyTensor's
        destroy handler allows it (e.g. a parameter that the function updates).

    Notes
    -----
    Inputs are ``z, alpha, x, y, beta``: three matrices of one float dtype and two scalars.
    As in BLAS, where ``beta`` is 0 the values of ``z`` are not read.
    """

    __props__ = ("inplace",)

    def __init__(self, inplace=False):
        self.inplace = bool(inplace)
        if self.inplace:
            self.destroy_map = {0: [0]}

    def make_node(self, z, alpha, x, y, beta):
        z = _as_matrix(self, "z", z)
        x = _as_matrix(self, "x", x, z.dtype)
        y = _as_matrix(self, "y", y, z.dtype)
        scalars = []
        for argument, value in (("alpha", alpha), ("beta", beta)):
            scalar = pt.as_tensor_variable(value)
            if scalar.ndim != 0:
                raise TypeError(
                    f"{type(self).__name__}: argument {argument!r}: expected ndim=0, "
                    f"found ndim={scalar.ndim}"
                )
            scalars.append(pt.cast(scalar, z.dtype))
        rows, cols = _static_product_shape(self, x, y)
        for static, expected in zip(z.type.shape, (rows, cols)):
            if static is not None and expected is not None and static != expected:
                raise ValueError(
                    f"{type(self).__name__}: argument 'z' has static shape {z.type.shape}, "
                    f"the product has {(rows, cols)}"
                )
        shape = tuple(s if s is not None else e for s, e in zip(z.type.shape, (rows, cols)))
        out = pt.tensor(dtype=z.dtype, shape=shape)
        return Apply(self, [z, scalars[0], x, y, scalars[1]], [out])

    def perform(self, node, inputs, output_storage):
        z, alpha, x, y, beta = inputs
        _check_product_shapes(self, x.shape, y.shape)
        if z.shape != (x.shape[0], y.shape[1]):
            raise ValueError(
                f"{type(self).__name__}: z of shape {z.shape} and x, y of shapes {x.shape} "
                f"and {y.shape} do not match a matrix product"
            )
        if self.inplace:
            out = z
        else:
            out = np.empty_like(z)
            if beta != 0:
                out[...] = z
        _gemm_into(out, alpha, x, y, beta)
        output_storage[0][0] = out

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0]]


blas_dot = BlasDot()
blas_gemm = BlasGemm(inplace=False)
blas_gemm_inplace = BlasGemm(inplace=True)
