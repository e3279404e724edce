"""Numba implementations of :class:`~blocks.ops.blas.op.BlasDot` and ``BlasGemm``.

Imported, which registers them with PyTensor's Numba backend, when PyTensor loads that
backend (see :mod:`blocks.ops.backends`). The products call ``numba_xxgemm``, the BLAS
entry point that Numba's own ``np.dot`` uses (SciPy's BLAS), with transpose flags and
leading dimensions read from the operands' strides at run time.

One BLAS for the whole process: the fused recurrent and attention kernels call ``np.dot``
inside Numba, which is SciPy's BLAS too. Calling NumPy's own OpenBLAS here (a newer
build, 15-50% faster on LeNet's products) was tried and reverted: the two libraries'
thread pools then spin against each other on a small machine, and the attention
encoder-decoder step took 97 ms instead of 17 with two threads.
"""

import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic
from numba.np.linalg import ensure_blas, get_blas_kind
from pytensor.link.numba.dispatch.basic import (
    numba_njit,
    register_funcify_default_op_cache_key,
)

from blocks.ops.blas.op import BlasDot, BlasGemm
from blocks.ops.numba_glue import shape_text

# Bumped whenever the generated code changes, so stale cache entries are not reused.
_CACHE_VERSION = 5

_ROW, _COL, _OTHER = 0, 1, 2
_NOTRANS, _TRANS = ord("n"), ord("t")

_char = ir.IntType(8)
_voidp = cgutils.voidptr_t


@intrinsic
def _xgemm(typingctx, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """Column-major BLAS ``c = alpha * op(a) @ op(b) + beta * c``; returns BLAS's status."""
    dtype = c.dtype
    sig = types.int32(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)

    def codegen(context, builder, signature, args):
        ensure_blas()
        arg_types = signature.args
        intp = context.get_value_type(types.intp)

        def integer(i):
            return context.cast(builder, args[i], arg_types[i], types.intp)

        def char(i):
            return builder.trunc(integer(i), _char)

        def pointer_to_scalar(i):
            value = context.cast(builder, args[i], arg_types[i], dtype)
            return builder.bitcast(cgutils.alloca_once_value(builder, value), _voidp)

        def data(i):
            array = context.make_array(arg_types[i])(context, builder, args[i])
            return builder.bitcast(array.data, _voidp)

        fnty = ir.FunctionType(ir.IntType(32), [
            _char, _char, _char, intp, intp, intp,
            _voidp, _voidp, intp, _voidp, intp, _voidp, _voidp, intp,
        ])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "numba_xxgemm")
        kind = ir.Constant(_char, ord(get_blas_kind(dtype)))
        return builder.call(fn, (
            kind, char(0), char(1), integer(2), integer(3), integer(4),
            pointer_to_scalar(5), data(6), integer(7), data(8), integer(9),
            pointer_to_scalar(10), data(11), integer(12),
        ))

    return sig, codegen


@intrinsic
def _any_layout(typingctx, x):
    """View `x` as an array of layout 'A' (same memory, same data model).

    The products then compile once per dtype instead of once per combination of operand
    layouts, which keeps cold compile times down.
    """
    sig = types.Array(x.dtype, x.ndim, "A")(x)

    def codegen(context, builder, signature, args):
        return impl_ret_borrowed(context, builder, signature.return_type, args[0])

    return sig, codegen


@numba_njit
def _layout(x):
    """How BLAS can read matrix `x`: (_ROW, ld), (_COL, ld) or (_OTHER, 0) (copy needed).

    A dimension of length 1 has an arbitrary stride, so it does not decide the layout.
    """
    rows, cols = x.shape
    s0, s1 = x.strides
    size = x.itemsize
    if s0 % size == 0 and s1 % size == 0:
        s0 //= size
        s1 //= size
        if cols <= 1 or s1 == 1:
            ld = s0 if rows > 1 else max(cols, 1)
            if ld >= max(cols, 1):
                return _ROW, ld
        if rows <= 1 or s0 == 1:
            ld = s1 if cols > 1 else max(rows, 1)
            if ld >= max(rows, 1):
                return _COL, ld
    return _OTHER, 0


@numba_njit
def _row_major_copy(x):
    """A C-contiguous copy of `x` (explicit loops: cheaper to compile than NumPy's)."""
    rows, cols = x.shape
    out = np.empty((rows, cols), dtype=x.dtype)
    for i in range(rows):
        for j in range(cols):
            out[i, j] = x[i, j]
    return _any_layout(out)


@numba_njit
def _gemm_strided(c, c_layout, ldc, alpha, a, b, beta):
    """`gemm_into` for a `c` that BLAS can write (row- or column-major)."""
    m, k = a.shape
    n = b.shape[1]
    a_layout, lda = _layout(a)
    if a_layout == _OTHER:
        a = _row_major_copy(a)
        a_layout, lda = _ROW, k
    b_layout, ldb = _layout(b)
    if b_layout == _OTHER:
        b = _row_major_copy(b)
        b_layout, ldb = _ROW, n
    if c_layout == _ROW:
        # Row-major c is column-major c.T = b.T @ a.T.
        status = _xgemm(
            _NOTRANS if b_layout == _ROW else _TRANS,
            _NOTRANS if a_layout == _ROW else _TRANS,
            n, m, k, alpha, b, ldb, a, lda, beta, c, ldc,
        )
    else:
        status = _xgemm(
            _NOTRANS if a_layout == _COL else _TRANS,
            _NOTRANS if b_layout == _COL else _TRANS,
            m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
        )
    if status != 0:
        raise RuntimeError("BlasGemm: the BLAS call failed")


@numba_njit
def _scale_add(c, beta, product):
    """``c = beta * c + product`` (``c`` not read where ``beta == 0``)."""
    rows, cols = c.shape
    for i in range(rows):
        for j in range(cols):
            if beta == 0:
                c[i, j] = product[i, j]
            else:
                c[i, j] = beta * c[i, j] + product[i, j]


@numba_njit
def gemm_into(c, alpha, a, b, beta):
    """``c[...] = beta * c + alpha * a @ b`` (``c`` not read where ``beta == 0``).

    All arrays have layout 'A' (see `_any_layout`); alpha and beta are floats.
    """
    m, k = a.shape
    n = b.shape[1]
    if b.shape[0] != k or c.shape[0] != m or c.shape[1] != n:
        raise ValueError("BlasGemm: z of shape " + shape_text(c.shape) + " and x, y of shapes "
                         + shape_text(a.shape) + " and " + shape_text(b.shape)
                         + " do not match a matrix product")
    if m == 0 or n == 0:
        return
    if k == 0:
        _scale_add(c, beta, np.zeros((m, n), dtype=c.dtype))
        return
    c_layout, ldc = _layout(c)
    if c_layout != _OTHER:
        _gemm_strided(c, c_layout, ldc, alpha, a, b, beta)
        return
    product = _any_layout(np.empty((m, n), dtype=c.dtype))
    _gemm_strided(product, _ROW, n, alpha, a, b, 0.0)
    _scale_add(c, beta, product)


# One function per op for all nodes (no per-node closures): each compiles once per
# signature, not once per node.


@numba_njit
def _blas_dot(x, y):
    if x.shape[1] != y.shape[0]:
        raise ValueError("BlasDot: shapes " + shape_text(x.shape) + " and "
                         + shape_text(y.shape) + " are not aligned for a matrix product")
    out = np.empty((x.shape[0], y.shape[1]), dtype=x.dtype)
    gemm_into(_any_layout(out), 1.0, _any_layout(x), _any_layout(y), 0.0)
    return out


@numba_njit
def _blas_gemm_inplace(z, alpha, x, y, beta):
    gemm_into(_any_layout(z), float(np.asarray(alpha).item()), _any_layout(x),
              _any_layout(y), float(np.asarray(beta).item()))
    return z


@numba_njit
def _blas_gemm(z, alpha, x, y, beta):
    return _blas_gemm_inplace(np.copy(z), alpha, x, y, beta)


@register_funcify_default_op_cache_key(BlasDot)
def _funcify_blas_dot(op, node, **kwargs):
    return _blas_dot, _CACHE_VERSION


@register_funcify_default_op_cache_key(BlasGemm)
def _funcify_blas_gemm(op, node, **kwargs):
    return (_blas_gemm_inplace if op.inplace else _blas_gemm), _CACHE_VERSION
