"""A Numba implementation of PyTensor's ``CAReduce`` that is quick to compile.

PyTensor's generates, for every reduction, code that sorts the input's strides at run
time (``np.argsort``), transposes by the sorted order and branches over every placement
of the reduced axes, and formats shape error messages: compiling one such function pulls
Numba's quicksort, hashing and string formatting into the graph, several seconds for the
first reduction of a process (4.4 s of the 15.5 s cold compile of an MLP step, measured
with ``benchmarks/compile.py``'s profile) and about a second for each further one.

This one makes a strided input C-contiguous (a copy, which the reductions of training
graphs rarely need: their inputs are fresh results) and runs one loop nest in that
order, accumulating into the kept axes. The loop over the last axis is innermost, as the
memory layout wants, whichever axes are reduced. Reductions it does not cover (a scalar
op without an in-place form or an identity, complex numbers) keep PyTensor's code.
"""

from hashlib import sha256

import numpy as np
from pytensor.link.numba.cache import compile_numba_function_src
from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_and_cache_key
from pytensor.link.numba.dispatch.elemwise import numba_funcify_CAReduce, scalar_in_place_fn
from pytensor.link.numba.dispatch.string_codegen import CODE_TOKEN, build_source_code
from pytensor.tensor.elemwise import CAReduce

from blocks.ops.loop_source import indices, loop_nest

__all__ = ["reduction_source"]

#: Enters the cache key: bump when the generated code changes.
_VERSION = 1


def reduction_source(scalar_op, axes, ndim, acc_dtype, out_dtype):
    """The Python source of a function ``careduce(x)`` reducing the `ndim`-dimensional
    array ``x`` over `axes` with `scalar_op` (starting from ``identity``, a global of the
    function), accumulating in `acc_dtype` and returning `out_dtype`.

    Raises ``NotImplementedError`` when `scalar_op` has no in-place form.
    """
    kept = [axis for axis in range(ndim) if axis not in axes]
    code = ["def careduce(x):", CODE_TOKEN.INDENT,
            "if not x.flags.c_contiguous:", CODE_TOKEN.INDENT, "x = x.copy()", CODE_TOKEN.DEDENT,
            "shape = x.shape"]
    # A full reduction accumulates in a one-element array rather than a scalar: the
    # update is then the same code as for a partial one.
    kept_shape = "".join(f"shape[{axis}], " for axis in kept) or "1,"
    result_index = ", ".join(f"i{axis}" for axis in kept) or "0"
    code += [f"result = np.empty(({kept_shape}), dtype=np.{acc_dtype.name})",
             "result[...] = identity"]
    code += loop_nest([f"shape[{axis}]" for axis in range(ndim)], scalar_in_place_fn(
        scalar_op, result_index, "result", f"x[{indices(ndim)}]"))
    if kept:
        code.append("return result" if acc_dtype == out_dtype
                    else f"return result.astype(np.{out_dtype.name})")
    else:
        code.append(f"return np.asarray(result[0]).astype(np.{out_dtype.name})")
    return build_source_code(code)


@register_funcify_and_cache_key(CAReduce)
def _funcify_careduce(op, node, **kwargs):
    ndim = node.inputs[0].ndim
    axes = tuple(sorted(range(ndim) if op.axis is None else op.axis))
    out_dtype = np.dtype(node.outputs[0].type.dtype)
    acc_dtype = np.dtype(getattr(op, "acc_dtype", None) or out_dtype)
    identity = op.scalar_op.identity
    if isinstance(identity, float) and np.isinf(identity) and acc_dtype.kind in "iub":
        # The maximum's identity is -inf, which integers and booleans cannot hold: their
        # least value is the identity there (the greatest, for the minimum).
        if acc_dtype.kind == "b":
            identity = bool(identity > 0)
        else:
            limits = np.iinfo(acc_dtype)
            identity = int(limits.min if identity < 0 else limits.max)
    kinds = {np.dtype(node.inputs[0].type.dtype).kind, acc_dtype.kind, out_dtype.kind}
    if identity is None or "c" in kinds:
        return numba_funcify_CAReduce(op, node, **kwargs)
    try:
        source = reduction_source(op.scalar_op, axes, ndim, acc_dtype, out_dtype)
    except NotImplementedError:
        return numba_funcify_CAReduce(op, node, **kwargs)
    careduce = compile_numba_function_src(source, "careduce",
                                          {"np": np, "identity": identity})
    key = sha256(f"blocks careduce {_VERSION} {identity!r}\n{source}".encode()).hexdigest()
    return numba_njit(careduce, boundscheck=False), key
