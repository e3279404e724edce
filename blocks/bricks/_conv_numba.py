"""Numba kernels of :class:`~blocks.bricks.conv_ops.Im2Col` and ``Col2Im``.

Imported (which registers them with PyTensor's Numba backend) the first time one of
the ops is used, so that importing the library does not import Numba.
"""

from hashlib import sha256
from pathlib import Path

import numpy as np
from pytensor.link.numba.dispatch.basic import (
    numba_njit,
    register_funcify_default_op_cache_key,
)

from blocks.bricks.conv_ops import Col2Im, Im2Col

#: Salt of PyTensor's on-disk cache key for these kernels: the cache is keyed by the op's
#: properties, so a change of this file must change the key.
KERNELS_VERSION = int(sha256(Path(__file__).read_bytes()).hexdigest()[:12], 16)


def once_per_op(funcify):
    """Build an op's kernels once per distinct op (ops with equal properties share them).

    PyTensor asks for the kernels of every node; two convolutions or poolings of the same
    geometry in a graph then compile once instead of twice.
    """
    built = {}

    def funcify_once(op, node=None, **kwargs):
        if op not in built:
            built[op] = funcify(op, node=node, **kwargs)
        return built[op]

    funcify_once.__name__ = funcify.__name__
    funcify_once.__doc__ = funcify.__doc__
    return funcify_once


@numba_njit
def _valid_range(offset, stride, size, count):
    """The outputs ``o`` in ``[lo, hi)`` such that ``0 <= o * stride + offset < size``."""
    lo = 0 if offset >= 0 else (-offset + stride - 1) // stride
    hi = 0 if size - offset <= 0 else (size - 1 - offset) // stride + 1
    lo = min(lo, count)
    hi = min(max(hi, lo), count)
    return lo, hi


def _kernels(op):
    """Numba functions moving pixels between images and columns for the op's geometry.

    Both walk the columns row by row (one filter tap of one channel), so the columns
    are written or read contiguously; an image row that a tap reads is contiguous too
    when the stride is 1.
    """
    kh, kw = op.kernel_shape
    sh, sw = op.subsample
    dh, dw = op.dilation
    (top, bottom), (left, right) = op.padding

    @numba_njit
    def out_size(rows, cols):
        return ((rows + top + bottom - (kh - 1) * dh - 1) // sh + 1,
                (cols + left + right - (kw - 1) * dw - 1) // sw + 1)

    # Plain index loops: slicing would create an array view (and reference counting) per
    # image row, which costs more than the handful of pixels it copies.

    @numba_njit(boundscheck=False)
    def gather(images, columns):
        batch, channels, rows, cols = images.shape
        out_rows, out_cols = out_size(rows, cols)
        for c in range(channels):
            for i in range(kh):
                for j in range(kw):
                    r = (c * kh + i) * kw + j
                    offset = j * dw - left
                    lo, hi = _valid_range(offset, sw, cols, out_cols)
                    for b in range(batch):
                        for y in range(out_rows):
                            base = (b * out_rows + y) * out_cols
                            iy = y * sh + i * dh - top
                            inside = 0 <= iy < rows
                            for x in range(out_cols):
                                if inside and lo <= x < hi:
                                    columns[r, base + x] = images[b, c, iy, x * sw + offset]
                                else:
                                    columns[r, base + x] = 0

    @numba_njit(boundscheck=False)
    def scatter(columns, images):
        # One image plane at a time, all taps: the plane stays in cache while it sums.
        batch, channels, rows, cols = images.shape
        out_rows, out_cols = out_size(rows, cols)
        for c in range(channels):
            for b in range(batch):
                for i in range(kh):
                    for j in range(kw):
                        r = (c * kh + i) * kw + j
                        offset = j * dw - left
                        lo, hi = _valid_range(offset, sw, cols, out_cols)
                        for y in range(out_rows):
                            iy = y * sh + i * dh - top
                            if 0 <= iy < rows:
                                base = (b * out_rows + y) * out_cols
                                for x in range(lo, hi):
                                    images[b, c, iy, x * sw + offset] += columns[r, base + x]

    return out_size, gather, scatter


@register_funcify_default_op_cache_key(Im2Col)
@once_per_op
def _numba_im2col(op, node=None, **kwargs):
    out_size, gather, _ = _kernels(op)
    kh, kw = op.kernel_shape

    @numba_njit
    def im2col(images):
        batch, channels, rows, cols = images.shape
        out_rows, out_cols = out_size(rows, cols)
        if out_rows <= 0 or out_cols <= 0:
            raise ValueError("Im2Col: the (dilated) filter does not fit in the padded input")
        columns = np.empty((channels * kh * kw, batch * out_rows * out_cols), images.dtype)
        gather(images, columns)
        return columns

    return im2col, KERNELS_VERSION


@register_funcify_default_op_cache_key(Col2Im)
@once_per_op
def _numba_col2im(op, node=None, **kwargs):
    out_size, _, scatter = _kernels(op)
    kh, kw = op.kernel_shape

    @numba_njit
    def col2im(columns, batch, channels, rows, cols):
        # Scalars arrive as 0-d arrays.
        batch, channels, rows, cols = batch.item(), channels.item(), rows.item(), cols.item()
        out_rows, out_cols = out_size(rows, cols)
        if columns.shape[0] != channels * kh * kw \
                or columns.shape[1] != batch * out_rows * out_cols:
            raise ValueError("Col2Im: the columns do not match the image shape")
        images = np.zeros((batch, channels, rows, cols), columns.dtype)
        scatter(np.ascontiguousarray(columns), images)
        return images

    return col2im, KERNELS_VERSION
