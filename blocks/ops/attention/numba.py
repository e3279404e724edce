"""The Numba implementations of the fused attention ops of
:mod:`blocks.ops.attention.op` and their gradients, registered with PyTensor's Numba
backend when that backend is loaded.

The loops themselves are the kernels of :mod:`blocks.ops.attention.kernels`.
"""

from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key

from blocks.ops.attention.op import OP_TYPES, run_attention_kernel
from blocks.ops.numba_glue import objmode_function

# Bump when _run's arguments or results change (it enters PyTensor's Numba cache key).
_NUMBA_VERSION = 2


def _numba_funcify(op, node, **kwargs):
    arguments = op.run_arguments
    return objmode_function(lambda inputs: run_attention_kernel(*arguments, inputs), node,
                            _NUMBA_VERSION)


for _op_types in OP_TYPES.values():
    for _op_type in _op_types:
        register_funcify_default_op_cache_key(_op_type)(_numba_funcify)
