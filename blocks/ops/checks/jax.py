"""JAX implementations of the run-time checks of :mod:`blocks.ops.checks.op`.

Indices pass unchecked, since XLA cannot raise from compiled code (its gathers clamp
instead); shapes are static under JAX, so the last dimension is checked when the
function is traced.
"""

from pytensor.link.jax.dispatch import jax_funcify

from blocks.ops.checks.op import IndexCheck, LastDimCheck


@jax_funcify.register(IndexCheck)
def _funcify_index_check(op, **kwargs):
    def index_check(indices, length):
        return indices

    return index_check


@jax_funcify.register(LastDimCheck)
def _funcify_last_dim_check(op, **kwargs):
    def last_dim_check(x):
        if x.shape[-1] != op.size:
            raise ValueError(op.message(x.shape))
        return x

    return last_dim_check
