"""Numba implementations of the run-time checks of :mod:`blocks.ops.checks.op`.

Imported, which registers them with PyTensor's Numba backend, when PyTensor loads that
backend (see :mod:`blocks.ops.backends`). The messages are built only on failure; a
check is one pass of comparisons over the indices, or one comparison of a shape.
"""

from pytensor.link.numba.dispatch.basic import (
    numba_njit,
    register_funcify_default_op_cache_key,
)

from blocks.ops.checks.op import IndexCheck, LastDimCheck
from blocks.ops.numba_glue import shape_text

_CACHE_VERSION = 3


@register_funcify_default_op_cache_key(IndexCheck)
def _funcify_index_check(op, node, **kwargs):
    prefix = op.where + ": index "
    allow_negative = op.allow_negative

    @numba_njit
    def index_check(indices, length):
        n = length.item()
        lowest = -n if allow_negative else 0
        flat = indices.ravel()
        for i in range(flat.size):
            index = flat[i]
            if index < lowest or index >= n:
                raise IndexError(
                    prefix + str(index) + " is out of range for a table of length "
                    + str(n) + " (indices must lie in [" + str(lowest) + ", " + str(n) + "))"
                )
        return indices

    return index_check, _CACHE_VERSION


@register_funcify_default_op_cache_key(LastDimCheck)
def _funcify_last_dim_check(op, node, **kwargs):
    size = op.size
    prefix = f"{op.where}: expected the last dimension to be {size}, found shape "

    @numba_njit
    def last_dim_check(x):
        if x.shape[-1] != size:
            raise ValueError(prefix + shape_text(x.shape))
        return x

    return last_dim_check, _CACHE_VERSION
