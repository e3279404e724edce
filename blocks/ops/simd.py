"""Short-vector loads and stores for the Numba kernels of convolution and pooling.

The rows these kernels move are short (8 to 24 pixels for LeNet) and their bounds are
known only at run time, so LLVM leaves the loops scalar or guards them with alias checks
that cost more than the few elements they cover (Numba arrays carry no ``noalias``). The
intrinsics here move :data:`VECTOR_BYTES` at once between arbitrary offsets of two
one-dimensional C-contiguous arrays; on a Col2Im of LeNet's second layer they turn
2.5 ms into 0.5 ms.

They do not check bounds: callers pass offsets of whole vectors inside both arrays.
"""

from hashlib import sha256
from pathlib import Path

from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic
from pytensor.link.numba.dispatch.basic import numba_njit

__all__ = ["VECTOR_BYTES", "source_version", "vector_add", "vector_copy", "vector_width",
           "add_rows", "copy_rows"]

#: Bytes moved by one vector operation (one AVX register; LLVM splits it where narrower).
VECTOR_BYTES = 32


def source_version(*files):
    """A salt for PyTensor's on-disk cache key of kernels written in `files`.

    The cache is keyed by an op's properties, so a change of a kernel's source, or of
    this module that the kernels inline, must change the key.
    """
    digest = sha256()
    for file in (*files, __file__):
        digest.update(Path(file).read_bytes())
    return int(digest.hexdigest()[:12], 16)


def _vector_pointers(context, builder, signature, args):
    dst_type, _, src_type, _ = signature.args
    element = context.get_value_type(dst_type.dtype)
    vector = ir.VectorType(element, VECTOR_BYTES * 8 // dst_type.dtype.bitwidth)
    pointers = []
    for array_type, array, offset in ((dst_type, args[0], args[1]),
                                      (src_type, args[2], args[3])):
        data = context.make_array(array_type)(context, builder, array).data
        pointers.append(builder.bitcast(builder.gep(data, [offset]), vector.as_pointer()))
    return pointers


def _check_types(dst, src):
    if not (isinstance(dst, types.Array) and isinstance(src, types.Array)
            and dst.ndim == src.ndim == 1 and dst.dtype == src.dtype
            and isinstance(dst.dtype, types.Float)):
        raise TypeError("vector operations take two 1D float arrays of one dtype")


def _vector_operation(combine):
    """An intrinsic ``(dst, dst_offset, src, src_offset)`` storing ``combine(builder,
    dst_vector_pointer, src_vector)`` into one vector of `dst`."""

    @intrinsic
    def operation(typingctx, dst, dst_offset, src, src_offset):
        _check_types(dst, src)

        def codegen(context, builder, signature, args):
            target, source = _vector_pointers(context, builder, signature, args)
            value = combine(builder, target, builder.load(source, align=1))
            builder.store(value, target, align=1)
            return context.get_dummy_value()

        return types.void(dst, dst_offset, src, src_offset), codegen

    return operation


#: ``dst[dst_offset:][:n] += src[src_offset:][:n]`` for one vector of ``n`` elements.
vector_add = _vector_operation(
    lambda builder, target, value: builder.fadd(builder.load(target, align=1), value))
#: ``dst[dst_offset:][:n] = src[src_offset:][:n]`` for one vector of ``n`` elements.
vector_copy = _vector_operation(lambda builder, target, value: value)


@intrinsic
def vector_width(typingctx, array):
    """Elements of ``array.dtype`` in one vector, as a compile-time constant.

    ``VECTOR_BYTES // array.itemsize`` would be read from the array at run time, and the
    divisions by it in the row loops cost more than the rows.
    """
    width = VECTOR_BYTES * 8 // array.dtype.bitwidth

    def codegen(context, builder, signature, args):
        return context.get_constant(types.intp, width)

    return types.intp(array), codegen


def _rows(vector, combine, dst_step, src_step):
    """``row(dst, dst_offset, src, src_offset, n)`` combining `n` elements of 1D `src`,
    every `src_step`-th, into `dst`, every `dst_step`-th (steps known at compile time):
    in vectors where both steps are 1."""
    contiguous = dst_step == src_step == 1

    @numba_njit(inline="always")
    def row(dst, dst_offset, src, src_offset, n):
        whole = 0
        if contiguous:
            width = vector_width(dst)
            whole = n - n % width
            # Counting vectors rather than stepping by `width`: Numba's stepped range
            # re-checks the sign of its step on every iteration (4x slower rows).
            for k in range(whole // width):
                vector(dst, dst_offset + k * width, src, src_offset + k * width)
        for k in range(whole, n):
            at = dst_offset + k * dst_step
            dst[at] = combine(dst[at], src[src_offset + k * src_step])

    return row


@numba_njit(inline="always")
def _plus(old, new):
    return old + new


@numba_njit(inline="always")
def _replace(old, new):
    return new


def add_rows(dst_step=1, src_step=1):
    """A row function (see `_rows`) adding the elements of `src` to those of `dst`."""
    return _rows(vector_add, _plus, dst_step, src_step)


def copy_rows(dst_step=1, src_step=1):
    """A row function (see `_rows`) copying the elements of `src` into `dst`."""
    return _rows(vector_copy, _replace, dst_step, src_step)
