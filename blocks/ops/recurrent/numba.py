"""The Numba implementations of :class:`~blocks.ops.recurrent.op.FusedRecurrent` and its
gradient, registered with PyTensor's Numba backend when that backend is loaded.

The loops themselves are the kernels of :mod:`blocks.ops.recurrent.kernels`.
"""

from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key

from blocks.ops.numba_glue import objmode_function
from blocks.ops.recurrent.op import FusedRecurrent, FusedRecurrentGrad, run_kernel


def _numba_function(op, node):
    backward, kind, activation = op._backward, op.kind, op.activation
    has_mask, reverse = op.has_mask, op.reverse

    def run(inputs):
        return run_kernel(backward, kind, activation, has_mask, reverse, inputs)

    return objmode_function(run, node, _NUMBA_VERSION)


_NUMBA_VERSION = 4


@register_funcify_default_op_cache_key(FusedRecurrent)
def _numba_funcify_forward(op, node, **kwargs):
    return _numba_function(op, node)


@register_funcify_default_op_cache_key(FusedRecurrentGrad)
def _numba_funcify_backward(op, node, **kwargs):
    return _numba_function(op, node)
