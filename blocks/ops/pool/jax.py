"""JAX implementations of the pooling ops of :mod:`blocks.ops.pool.op`.

Imported, which registers them with PyTensor's JAX backend, when PyTensor loads that
backend (see :mod:`blocks.ops.backends`).

The geometry is the op's: the image is placed in an array covering every window (the
"extended" image, padding and clipped border filled with a value that never wins a
maximum, or zero), windows start every ``stride`` pixels. :class:`Pool` is one
``lax.reduce_window``; the gradients visit the ``ws`` taps of the windows with strided
slices (reading) and interior-padded ``lax.pad`` (writing), as the NumPy implementation
does, so that a maximum reached by several inputs passes the gradient to each of them,
as in the Numba kernels. The divisors of an average depend on the shape only: they are
computed with NumPy while tracing and enter the graph as constants.
"""

import jax.numpy as jnp
import numpy as np
from jax import lax
from pytensor.link.jax.dispatch import jax_funcify

from blocks.ops.jax_glue import strided_place, strided_read
from blocks.ops.pool.op import AvgPoolGrad, MaxPoolGrad, MaxPoolGradGrad, Pool

__all__ = ["pool", "max_pool_grad", "max_pool_grad_grad", "avg_pool_grad"]


def _lowest(dtype):
    dtype = np.dtype(dtype)
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _geometry(op, shape):
    """Output size, and per axis the ``(before, after)`` extension of the image."""
    rows, cols = shape[-2:]
    out_hw = op._check_fits(shape)
    extension = []
    for out, stride, window, size, pad in zip(out_hw, op.stride, op.ws, (rows, cols),
                                              op.padding):
        extent = max((out - 1) * stride + window, size + 2 * pad)
        extension.append((pad, extent - pad - size))
    return out_hw, extension


def _extended(x, extension, fill):
    config = [(0, 0, 0)] * (x.ndim - 2) + [(lo, hi, 0) for lo, hi in extension]
    return lax.pad(x, jnp.asarray(fill, x.dtype), config)


def _taps(op):
    """The start of every tap (i, j) of a window, relative to the window's first pixel."""
    return [(i, j) for i in range(op.ws[0]) for j in range(op.ws[1])]


def _crop(ext, extension, shape):
    (top, _), (left, _) = extension
    return ext[..., top:top + shape[-2], left:left + shape[-1]]


def _counts(op, shape, dtype):
    return jnp.asarray(op._counts(shape), dtype=dtype)


def pool(op, x):
    """The pooling of `x` by the op (its last two axes)."""
    out_hw, extension = _geometry(op, x.shape)
    lead = (1,) * (x.ndim - 2)
    if op.mode == "max":
        ext = _extended(x, extension, _lowest(x.dtype))
        init, reducer = jnp.asarray(_lowest(x.dtype), x.dtype), lax.max
    else:
        ext = _extended(x, extension, 0)
        init, reducer = jnp.asarray(0, x.dtype), lax.add
    out = lax.reduce_window(ext, init, reducer, lead + op.ws, lead + op.stride, "VALID")
    out = out[..., :out_hw[0], :out_hw[1]]
    if op.mode == "max":
        return out
    return (out / _counts(op, x.shape, out.dtype)).astype(x.dtype)


def _max_masks(op, x, maxout):
    """Per tap: its start and where the input it reads equals its window's maximum."""
    out_hw, extension = _geometry(op, x.shape)
    ext = _extended(x, extension, _lowest(x.dtype))
    for start in _taps(op):
        yield start, strided_read(ext, start, op.stride, out_hw) == maxout


def _scatter_taps(op, shape, values_per_tap):
    """Sum of every tap's values placed at the pixels the tap reads, cropped to `shape`."""
    out_hw, extension = _geometry(op, shape)
    extent = [lo + size + hi for (lo, hi), size in zip(extension, shape[-2:])]
    ext = sum(strided_place(values, start, op.stride, extent)
              for start, values in values_per_tap)
    return _crop(ext, extension, shape)


def max_pool_grad(op, x, maxout, gz):
    """Gradient of max pooling: each window's `gz` to every input equal to its maximum."""
    zero = jnp.zeros((), gz.dtype)
    return _scatter_taps(op, x.shape, [(start, jnp.where(mask, gz, zero))
                                       for start, mask in _max_masks(op, x, maxout)])


def max_pool_grad_grad(op, x, maxout, ggx):
    """Per window: the sum of `ggx` over the inputs equal to the window's maximum."""
    out_hw, extension = _geometry(op, x.shape)
    ggx_ext = _extended(ggx, extension, 0)
    zero = jnp.zeros((), ggx.dtype)
    return sum(jnp.where(mask, strided_read(ggx_ext, start, op.stride, out_hw), zero)
               for start, mask in _max_masks(op, x, maxout))


def avg_pool_grad(op, x, gz):
    """Gradient of average pooling: each window's `gz` shared among its divisor."""
    share = gz / _counts(op, x.shape, gz.dtype)
    return _scatter_taps(op, x.shape, [(start, share) for start in _taps(op)])


@jax_funcify.register(Pool)
def jax_funcify_Pool(op, **kwargs):
    def pool_jax(x):
        return pool(op, x)

    return pool_jax


@jax_funcify.register(MaxPoolGrad)
def jax_funcify_MaxPoolGrad(op, **kwargs):
    def max_pool_grad_jax(x, maxout, gz):
        return max_pool_grad(op, x, maxout, gz)

    return max_pool_grad_jax


@jax_funcify.register(MaxPoolGradGrad)
def jax_funcify_MaxPoolGradGrad(op, **kwargs):
    def max_pool_grad_grad_jax(x, maxout, ggx):
        return max_pool_grad_grad(op, x, maxout, ggx)

    return max_pool_grad_grad_jax


@jax_funcify.register(AvgPoolGrad)
def jax_funcify_AvgPoolGrad(op, **kwargs):
    def avg_pool_grad_jax(x, gz):
        return avg_pool_grad(op, x, gz)

    return avg_pool_grad_jax
