"""Numba kernels of the pooling ops of :mod:`blocks.ops.pool.op`.

Imported, which registers them with PyTensor's Numba backend, when PyTensor loads that
backend (see :mod:`blocks.ops.backends`). Every kernel sees the input as
``(batch, channels, rows, cols)``.
"""

import numpy as np
from numba.extending import overload
from pytensor.link.numba.dispatch.basic import (
    numba_njit,
    register_funcify_default_op_cache_key,
)

from blocks.ops.numba_glue import once_per_op, shape_text
from blocks.ops.pool.op import AvgPoolGrad, MaxPoolGrad, MaxPoolGradGrad, Pool
from blocks.ops.simd import source_version

#: Salt of PyTensor's on-disk cache key for these kernels (see `source_version`).
KERNELS_VERSION = source_version(__file__)


def _as_4d(x):
    """``x`` if 4D, else a contiguous ``(1, images, rows, cols)`` view (Numba only)."""
    raise NotImplementedError("_as_4d is only callable from Numba code")


@overload(_as_4d)
def _as_4d_overload(x):
    # Resolved when the kernel is typed, so each rank compiles only its own branch.
    if x.ndim == 4:
        return lambda x: x

    def reshaped(x):
        rows, cols = x.shape[-2], x.shape[-1]
        return np.ascontiguousarray(x).reshape((1, x.size // (rows * cols), rows, cols))

    return reshaped


@numba_njit
def _window(index, stride, padding, pool, size):
    """Image pixels ``[first, last)`` of a window, and its size clipped to the padding."""
    start = index * stride - padding
    end = min(start + pool, size + padding)
    return max(start, 0), min(end, size), end - start


def _geometry(op):
    """The output size of the op's pooling, as a Numba function of the image size."""
    (wh, ww), (sh, sw), (ph, pw) = op.ws, op.stride, op.padding
    ignore_border = op.ignore_border

    @numba_njit
    def length(size, pool, stride, padding):
        padded = size + 2 * padding
        if ignore_border:
            return (padded - pool) // stride + 1
        if stride >= pool:
            return (padded - 1) // stride + 1
        return max(0, (padded - 1 - pool + stride) // stride) + 1

    @numba_njit
    def out_size(rows, cols):
        out_rows, out_cols = length(rows, wh, sh, ph), length(cols, ww, sw, pw)
        if out_rows <= 0 or out_cols <= 0:
            raise ValueError("Pool: the pooling region " + shape_text((wh, ww))
                             + " is larger than the padded image of " + shape_text((rows, cols))
                             + " (rows, columns)")
        return out_rows, out_cols

    return out_size


def _windows_inside(op):
    """Whether every window lies in the image: no padding, and the border ignored."""
    return op.ignore_border and op.padding == (0, 0)


def _inside_loop(op, window):
    """`_loop` for ops whose windows all lie in the image (see `_windows_inside`).

    Without the clipping and the split into edge and inner windows, LLVM vectorizes the
    whole loop over a row of windows: pooling LeNet's first layer takes 0.07 ms instead
    of 0.2, its gradient 0.2 ms instead of 0.9 (with `disjoint` stores).
    """
    (wh, ww), (sh, sw) = op.ws, op.stride

    @numba_njit(boundscheck=False)
    def loop(n, channels, rows, cols, out_rows, out_cols, a, b, d, e):
        for k in range(n):
            for c in range(channels):
                for y in range(out_rows):
                    for x in range(out_cols):
                        window(k, c, y, x, y * sh, y * sh + wh, x * sw, x * sw + ww,
                               wh * ww, True, a, b, d, e)

    return loop


def _loop(op, window):
    """A Numba function calling ``window`` once for every pooling window.

    ``window(k, c, y, x, r0, r1, c0, c1, count, full, a, b, d, e)`` receives the image
    pixels ``[r0, r1) x [c0, c1)`` of output pixel ``(k, c, y, x)``, the divisor of an
    average (``count``), whether the window lies entirely in the image (``full``: then
    its size is the op's, a constant, and the loops over it unroll) and four arrays
    passed through. Full windows are visited in a loop whose column offsets are affine
    in ``x``, which LLVM vectorizes.
    """
    (wh, ww), (sh, sw), (ph, pw) = op.ws, op.stride, op.padding
    include_padding = op.mode == "average_inc_pad"
    if _windows_inside(op):
        return _inside_loop(op, window)

    @numba_njit
    def clipped(index, stride, padding, pool, size):
        start = index * stride - padding
        end = min(start + pool, size + padding)
        first, last = max(start, 0), min(end, size)
        return first, last, (end - start) if include_padding else (last - first)

    @numba_njit(boundscheck=False)
    def loop(n, channels, rows, cols, out_rows, out_cols, a, b, d, e):
        # Output columns whose windows lie entirely inside the image.
        x_first = min((pw + sw - 1) // sw, out_cols)
        x_last = min(max((cols + pw - ww) // sw + 1, x_first), out_cols)
        for k in range(n):
            for c in range(channels):
                for y in range(out_rows):
                    r0, r1, r_count = clipped(y, sh, ph, wh, rows)
                    full_row = r1 - r0 == wh
                    for x in range(out_cols):
                        if full_row and x_first <= x < x_last:
                            continue
                        c0, c1, c_count = clipped(x, sw, pw, ww, cols)
                        window(k, c, y, x, r0, r1, c0, c1, r_count * c_count, False,
                               a, b, d, e)
                    if full_row:
                        for x in range(x_first, x_last):
                            c0 = x * sw - pw
                            window(k, c, y, x, r0, r1, c0, c0 + ww, wh * ww, True,
                                   a, b, d, e)

    return loop


def _window_helpers(op):
    """Reductions and scatters over one window, with constant-size loops when full."""
    wh, ww = op.ws

    @numba_njit
    def window_max(image, k, c, r0, r1, c0, c1, full):
        best = image[k, c, r0, c0]
        if full:
            for i in range(wh):
                for j in range(ww):
                    best = max(best, image[k, c, r0 + i, c0 + j])
        else:
            for r in range(r0, r1):
                for col in range(c0, c1):
                    best = max(best, image[k, c, r, col])
        return best

    @numba_njit
    def window_sum(image, k, c, r0, r1, c0, c1, full):
        total = 0.0
        if full:
            for i in range(wh):
                for j in range(ww):
                    total += image[k, c, r0 + i, c0 + j]
        else:
            for r in range(r0, r1):
                for col in range(c0, c1):
                    total += image[k, c, r, col]
        return total

    @numba_njit
    def window_add(target, k, c, value, r0, r1, c0, c1, full):
        if full:
            for i in range(wh):
                for j in range(ww):
                    target[k, c, r0 + i, c0 + j] += value
        else:
            for r in range(r0, r1):
                for col in range(c0, c1):
                    target[k, c, r, col] += value

    @numba_njit
    def window_max_add(image, k, c, best, target, value, r0, r1, c0, c1, full):
        """Add `value` to `target` wherever `image` equals `best`.

        Multiplying by the comparison rather than branching on it avoids a mispredicted
        branch per pixel (which pixel holds the maximum is random): 4x faster.
        """
        if full:
            for i in range(wh):
                for j in range(ww):
                    target[k, c, r0 + i, c0 + j] += value * (
                        image[k, c, r0 + i, c0 + j] == best)
        else:
            for r in range(r0, r1):
                for col in range(c0, c1):
                    target[k, c, r, col] += value * (image[k, c, r, col] == best)

    @numba_njit
    def window_max_sum(image, k, c, best, source, r0, r1, c0, c1, full):
        """Sum `source` wherever `image` equals `best`."""
        total = 0.0
        if full:
            for i in range(wh):
                for j in range(ww):
                    total += source[k, c, r0 + i, c0 + j] * (
                        image[k, c, r0 + i, c0 + j] == best)
        else:
            for r in range(r0, r1):
                for col in range(c0, c1):
                    total += source[k, c, r, col] * (image[k, c, r, col] == best)
        return total

    return window_max, window_sum, window_add, window_max_add, window_max_sum


@register_funcify_default_op_cache_key(Pool)
@once_per_op
def _numba_pool(op, node=None, **kwargs):
    out_size = _geometry(op)
    window_max, window_sum, *_ = _window_helpers(op)
    is_max = op.mode == "max"

    @numba_njit
    def window(k, c, y, x, r0, r1, c0, c1, count, full, images, out, unused, unused_):
        if is_max:
            out[k, c, y, x] = window_max(images, k, c, r0, r1, c0, c1, full)
        else:
            out[k, c, y, x] = window_sum(images, k, c, r0, r1, c0, c1, full) / count

    loop = _loop(op, window)

    @numba_njit
    def pool(x):
        images = _as_4d(x)
        n, channels, rows, cols = images.shape
        out_rows, out_cols = out_size(rows, cols)
        out = np.empty((n, channels, out_rows, out_cols), x.dtype)
        loop(n, channels, rows, cols, out_rows, out_cols, images, out, out, out)
        return out.reshape(x.shape[:-2] + (out_rows, out_cols))

    return pool, KERNELS_VERSION


@register_funcify_default_op_cache_key(MaxPoolGrad)
@once_per_op
def _numba_max_pool_grad(op, node=None, **kwargs):
    window_max_add = _window_helpers(op)[3]
    # Windows that neither overlap nor reach past the image: each pixel is written once,
    # so it is set rather than added to (no zeroing first where the windows tile the
    # image, no reads of the gradient), and row by row, which LLVM vectorizes: 0.2 ms
    # instead of 0.7 for the first layer of LeNet.
    disjoint = _windows_inside(op) and all(s >= w for s, w in zip(op.stride, op.ws))
    (wh, ww), (sh, sw) = op.ws, op.stride

    @numba_njit
    def window(k, c, y, x, r0, r1, c0, c1, count, full, images, pooled, grads, grad):
        window_max_add(images, k, c, pooled[k, c, y, x], grad, grads[k, c, y, x],
                       r0, r1, c0, c1, full)

    loop = _loop(op, window)

    @numba_njit(boundscheck=False)
    def set_rows(images, pooled, grads, grad):
        n, channels, out_rows, out_cols = pooled.shape
        for k in range(n):
            for c in range(channels):
                for y in range(out_rows):
                    for i in range(wh):
                        r = y * sh + i
                        for x in range(out_cols):
                            best, value = pooled[k, c, y, x], grads[k, c, y, x]
                            for j in range(ww):
                                grad[k, c, r, x * sw + j] = value * (
                                    images[k, c, r, x * sw + j] == best)

    @numba_njit
    def max_pool_grad(x, maxout, gz):
        images, pooled, grads = _as_4d(x), _as_4d(maxout), _as_4d(gz)
        n, channels, rows, cols = images.shape
        if not disjoint:
            grad = np.zeros(images.shape, x.dtype)
            loop(n, channels, rows, cols, pooled.shape[2], pooled.shape[3], images, pooled,
                 grads, grad)
            return grad.reshape(x.shape)
        if sh == wh and sw == ww and rows == pooled.shape[2] * sh \
                and cols == pooled.shape[3] * sw:
            grad = np.empty(images.shape, x.dtype)
        else:
            grad = np.zeros(images.shape, x.dtype)   # pixels between or after windows
        set_rows(images, pooled, grads, grad)
        return grad.reshape(x.shape)

    return max_pool_grad, KERNELS_VERSION


@register_funcify_default_op_cache_key(MaxPoolGradGrad)
@once_per_op
def _numba_max_pool_grad_grad(op, node=None, **kwargs):
    window_max_sum = _window_helpers(op)[4]

    @numba_njit
    def window(k, c, y, x, r0, r1, c0, c1, count, full, images, pooled, sources, out):
        out[k, c, y, x] = window_max_sum(images, k, c, pooled[k, c, y, x], sources,
                                         r0, r1, c0, c1, full)

    loop = _loop(op, window)

    @numba_njit
    def max_pool_grad_grad(x, maxout, ggx):
        images, pooled = _as_4d(x), _as_4d(maxout)
        n, channels, rows, cols = images.shape
        out = np.empty(pooled.shape, maxout.dtype)
        loop(n, channels, rows, cols, pooled.shape[2], pooled.shape[3], images, pooled,
             _as_4d(ggx), out)
        return out.reshape(maxout.shape)

    return max_pool_grad_grad, KERNELS_VERSION


@register_funcify_default_op_cache_key(AvgPoolGrad)
@once_per_op
def _numba_avg_pool_grad(op, node=None, **kwargs):
    window_add = _window_helpers(op)[2]

    @numba_njit
    def window(k, c, y, x, r0, r1, c0, c1, count, full, grads, grad, unused, unused_):
        window_add(grad, k, c, grads[k, c, y, x] / count, r0, r1, c0, c1, full)

    loop = _loop(op, window)

    @numba_njit
    def avg_pool_grad(x, gz):
        grads = _as_4d(gz)
        n, channels, out_rows, out_cols = grads.shape
        rows, cols = x.shape[-2], x.shape[-1]
        grad = np.zeros((n, channels, rows, cols), x.dtype)
        loop(n, channels, rows, cols, out_rows, out_cols, grads, grad, grad, grad)
        return grad.reshape(x.shape)

    return avg_pool_grad, KERNELS_VERSION
