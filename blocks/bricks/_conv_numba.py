"""Numba kernels of :class:`~blocks.bricks.conv_ops.Im2Col` and ``Col2Im``.

Imported (which registers them with PyTensor's Numba backend) the first time one of
the ops is used, so that importing the library does not import Numba.
"""

import numpy as np
from pytensor.link.numba.dispatch.basic import (
    numba_njit,
    register_funcify_default_op_cache_key,
)

from blocks.bricks.conv_ops import Col2Im, Im2Col


@numba_njit(inline="always")
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

    @numba_njit(inline="always")
    def out_size(rows, cols):
        return ((rows + top + bottom - (kh - 1) * dh - 1) // sh + 1,
                (cols + left + right - (kw - 1) * dw - 1) // sw + 1)

    @numba_njit(boundscheck=False)
    def move(images, columns, to_columns):
        batch, channels, rows, cols = images.shape
        out_rows, out_cols = out_size(rows, cols)
        for c in range(channels):
            for i in range(kh):
                for j in range(kw):
                    row = columns[(c * kh + i) * kw + j]
                    offset = j * dw - left
                    lo, hi = _valid_range(offset, sw, cols, out_cols)
                    for b in range(batch):
                        for y in range(out_rows):
                            base = (b * out_rows + y) * out_cols
                            iy = y * sh + i * dh - top
                            if iy < 0 or iy >= rows:
                                if to_columns:
                                    row[base:base + out_cols] = 0
                                continue
                            image_row = images[b, c, iy]
                            if to_columns:
                                row[base:base + lo] = 0
                                for x in range(lo, hi):
                                    row[base + x] = image_row[x * sw + offset]
                                row[base + hi:base + out_cols] = 0
                            else:
                                for x in range(lo, hi):
                                    image_row[x * sw + offset] += row[base + x]

    return out_size, move


@register_funcify_default_op_cache_key(Im2Col)
def _numba_im2col(op, node=None, **kwargs):
    out_size, move = _kernels(op)
    kh, kw = op.kernel_shape

    @numba_njit
    def im2col(images):
        batch, channels, rows, cols = images.shape
        out_rows, out_cols = out_size(rows, cols)
        if out_rows <= 0 or out_cols <= 0:
            raise ValueError("Im2Col: the (dilated) filter does not fit in the padded input")
        columns = np.empty((channels * kh * kw, batch * out_rows * out_cols), images.dtype)
        move(images, columns, True)
        return columns

    return im2col


@register_funcify_default_op_cache_key(Col2Im)
def _numba_col2im(op, node=None, **kwargs):
    out_size, move = _kernels(op)
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
        move(images, np.ascontiguousarray(columns), False)
        return images

    return col2im
