"""The Numba implementations of :class:`~blocks.ops.attention.op.FusedAttentionGRU` and
its gradient, registered with PyTensor's Numba backend when that backend is loaded.

The loops themselves are the kernels of :mod:`blocks.ops.attention.kernels`.
"""

from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key

from blocks.ops.attention.op import (
    FusedAttentionGRU,
    FusedAttentionGRUGrad,
    run_attention_kernel,
)
from blocks.ops.numba_glue import objmode_function

# Bump when _run's arguments or results change (it enters PyTensor's Numba cache key).
_NUMBA_VERSION = 1


def _numba_funcify(op, node, **kwargs):
    backward, props = op._backward, op._props_tuple
    return objmode_function(lambda inputs: run_attention_kernel(backward, props, inputs), node,
                            _NUMBA_VERSION)


for _op_type in (FusedAttentionGRU, FusedAttentionGRUGrad):
    register_funcify_default_op_cache_key(_op_type)(_numba_funcify)
