"""Numba implementation of :class:`~blocks.ops.lookup.op.IndexCheck`.

Imported, which registers it with PyTensor's Numba backend, when PyTensor loads that
backend (see :mod:`blocks.ops.backends`). One pass over the indices, two comparisons
each; the message is built only when an index is out of range.
"""

from pytensor.link.numba.dispatch.basic import (
    numba_njit,
    register_funcify_default_op_cache_key,
)

from blocks.ops.lookup.op import IndexCheck

_CACHE_VERSION = 1


@register_funcify_default_op_cache_key(IndexCheck)
def _funcify_index_check(op, node, **kwargs):
    prefix = op.where + ": index "

    @numba_njit
    def index_check(indices, length):
        n = length.item()
        flat = indices.ravel()
        for i in range(flat.size):
            index = flat[i]
            if index < 0 or index >= n:
                raise IndexError(
                    prefix + str(index) + " is out of range for a table of length "
                    + str(n) + " (indices must lie in [0, " + str(n) + "))"
                )
        return indices

    return index_check, _CACHE_VERSION
