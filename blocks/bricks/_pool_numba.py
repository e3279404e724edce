"""Numba kernels of the pooling ops of :mod:`blocks.bricks.pool_ops`.

Imported (which registers them with PyTensor's Numba backend) the first time one of
the ops is used. Every kernel sees the input as ``(images, rows, cols)``.
"""

import numpy as np
from pytensor.link.numba.dispatch.basic import (
    numba_njit,
    register_funcify_default_op_cache_key,
)

from blocks.bricks.pool_ops import AvgPoolGrad, MaxPoolGrad, MaxPoolGradGrad, Pool


@numba_njit(inline="always")
def _window(index, stride, padding, pool, size):
    """Image pixels ``[first, last)`` of a window, and its size clipped to the padding."""
    start = index * stride - padding
    end = min(start + pool, size + padding)
    return max(start, 0), min(end, size), end - start


def _geometry(op):
    """Numba helpers for the op's windows: output size, window bounds and divisor."""
    (wh, ww), (sh, sw), (ph, pw) = op.ws, op.stride, op.padding
    ignore_border = op.ignore_border
    include_padding = op.mode == "average_inc_pad"

    @numba_njit(inline="always")
    def length(size, pool, stride, padding):
        padded = size + 2 * padding
        if ignore_border:
            return (padded - pool) // stride + 1
        if stride >= pool:
            return (padded - 1) // stride + 1
        return max(0, (padded - 1 - pool + stride) // stride) + 1

    @numba_njit(inline="always")
    def out_size(rows, cols):
        out_rows, out_cols = length(rows, wh, sh, ph), length(cols, ww, sw, pw)
        if out_rows <= 0 or out_cols <= 0:
            raise ValueError("Pool: the pooling region is larger than the padded image")
        return out_rows, out_cols

    @numba_njit(inline="always")
    def bounds(y, x, rows, cols):
        r0, r1, r_count = _window(y, sh, ph, wh, rows)
        c0, c1, c_count = _window(x, sw, pw, ww, cols)
        if include_padding:
            divisor = r_count * c_count
        else:
            divisor = (r1 - r0) * (c1 - c0)
        return r0, r1, c0, c1, divisor

    @numba_njit(inline="always")
    def as_3d(x):
        rows, cols = x.shape[-2], x.shape[-1]
        return np.ascontiguousarray(x).reshape((x.size // (rows * cols), rows, cols))

    return out_size, bounds, as_3d


@register_funcify_default_op_cache_key(Pool)
def _numba_pool(op, node=None, **kwargs):
    out_size, bounds, as_3d = _geometry(op)
    is_max = op.mode == "max"

    @numba_njit(boundscheck=False)
    def pool(x):
        images = as_3d(x)
        n, rows, cols = images.shape
        out_rows, out_cols = out_size(rows, cols)
        out = np.empty((n, out_rows, out_cols), x.dtype)
        for k in range(n):
            for y in range(out_rows):
                for xo in range(out_cols):
                    r0, r1, c0, c1, divisor = bounds(y, xo, rows, cols)
                    if is_max:
                        best = images[k, r0, c0]
                        for r in range(r0, r1):
                            for c in range(c0, c1):
                                best = max(best, images[k, r, c])
                        out[k, y, xo] = best
                    else:
                        total = 0.0
                        for r in range(r0, r1):
                            for c in range(c0, c1):
                                total += images[k, r, c]
                        out[k, y, xo] = total / divisor
        return out.reshape(x.shape[:-2] + (out_rows, out_cols))

    return pool


def _max_windows(op):
    """A kernel visiting, for every window, the inputs equal to the window's maximum.

    ``visit(x, maxout, source, target, to_input)`` adds ``source`` at the output
    position to ``target`` at the input position (``to_input``), or the other way round.
    """
    out_size, bounds, as_3d = _geometry(op)

    @numba_njit(boundscheck=False)
    def visit(x, maxout, source, target, to_input):
        n, rows, cols = x.shape
        out_rows, out_cols = maxout.shape[1], maxout.shape[2]
        for k in range(n):
            for y in range(out_rows):
                for xo in range(out_cols):
                    r0, r1, c0, c1, _ = bounds(y, xo, rows, cols)
                    best = maxout[k, y, xo]
                    for r in range(r0, r1):
                        for c in range(c0, c1):
                            if x[k, r, c] == best:
                                if to_input:
                                    target[k, r, c] += source[k, y, xo]
                                else:
                                    target[k, y, xo] += source[k, r, c]

    return as_3d, visit


@register_funcify_default_op_cache_key(MaxPoolGrad)
def _numba_max_pool_grad(op, node=None, **kwargs):
    as_3d, visit = _max_windows(op)

    @numba_njit
    def max_pool_grad(x, maxout, gz):
        images = as_3d(x)
        grad = np.zeros(images.shape, x.dtype)
        visit(images, as_3d(maxout), as_3d(gz), grad, True)
        return grad.reshape(x.shape)

    return max_pool_grad


@register_funcify_default_op_cache_key(MaxPoolGradGrad)
def _numba_max_pool_grad_grad(op, node=None, **kwargs):
    as_3d, visit = _max_windows(op)

    @numba_njit
    def max_pool_grad_grad(x, maxout, ggx):
        pooled = as_3d(maxout)
        grad = np.zeros(pooled.shape, maxout.dtype)
        visit(as_3d(x), pooled, as_3d(ggx), grad, False)
        return grad.reshape(maxout.shape)

    return max_pool_grad_grad


@register_funcify_default_op_cache_key(AvgPoolGrad)
def _numba_avg_pool_grad(op, node=None, **kwargs):
    out_size, bounds, as_3d = _geometry(op)

    @numba_njit(boundscheck=False)
    def avg_pool_grad(x, gz):
        rows, cols = x.shape[-2], x.shape[-1]
        grads = as_3d(gz)
        n, out_rows, out_cols = grads.shape
        grad = np.zeros((n, rows, cols), x.dtype)
        for k in range(n):
            for y in range(out_rows):
                for xo in range(out_cols):
                    r0, r1, c0, c1, divisor = bounds(y, xo, rows, cols)
                    share = grads[k, y, xo] / divisor
                    for r in range(r0, r1):
                        for c in range(c0, c1):
                            grad[k, r, c] += share
        return grad.reshape(x.shape)

    return avg_pool_grad
