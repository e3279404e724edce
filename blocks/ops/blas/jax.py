"""JAX implementations of :class:`~blocks.ops.blas.op.BlasDot` and ``BlasGemm``.

Imported, which registers them with PyTensor's JAX backend, when PyTensor loads that
backend (see :mod:`blocks.ops.backends`). The rewrites that introduce these ops run with
the Numba linker only (:mod:`blocks.ops.rewrites`), so a graph compiled for JAX meets
them only when it was built with them explicitly. Memory layout, the point of the ops, is
XLA's business under JAX, and ``BlasGemm``'s in-place flag has no meaning there: arrays
are immutable and XLA reuses buffers itself.
"""

import jax.numpy as jnp
from pytensor.link.jax.dispatch import jax_funcify

from blocks.ops.blas.op import BlasDot, BlasGemm

__all__ = ["gemm"]


def gemm(z, alpha, x, y, beta):
    """``beta * z + alpha * x @ y``; as in BLAS, `z` is not read where `beta` is 0 (so a NaN
    in it does not propagate)."""
    product = alpha * jnp.dot(x, y)
    return jnp.where(beta == 0, product, beta * z + product)


@jax_funcify.register(BlasDot)
def jax_funcify_BlasDot(op, **kwargs):
    def blas_dot(x, y):
        return jnp.dot(x, y)

    return blas_dot


@jax_funcify.register(BlasGemm)
def jax_funcify_BlasGemm(op, **kwargs):
    def blas_gemm(z, alpha, x, y, beta):
        return gemm(z, alpha, x, y, beta)

    return blas_gemm
